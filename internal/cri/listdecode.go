package cri

import (
	"google.golang.org/protobuf/encoding/protowire"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The identity lists (ListPodSandbox, ListContainers) are decoded by hand as
// the stats answers are (statsdecode.go), with the same rule: exactly what
// the trimmed standard decode gives, or give up and leave the answer to it.
// They give up too where an item's metadata lacks what names it: the
// trimming codec then decodes the answer again with its labels
// (sandboxesNeedLabels, containersNeedLabels). The strings every container
// repeats (its image, image reference and ID, runtime handler) are shared
// within an answer (statsDecoder.shared).

// listDecoder is one list answer's decode; not for reuse across answers.
type listDecoder struct {
	statsDecoder
	sb    slab[runtimeapi.PodSandbox]
	ctr   slab[runtimeapi.Container]
	image slab[runtimeapi.ImageSpec]
}

// decodeListPodSandbox decodes a ListPodSandboxResponse by hand, or reports
// false.
func decodeListPodSandbox(b []byte, out *runtimeapi.ListPodSandboxResponse) bool {
	var d listDecoder
	items, ok := decodeList(b, func(b []byte) *runtimeapi.PodSandbox {
		if sb := d.podSandbox(b); sb != nil && sandboxNamed(sb) {
			return sb
		}
		return nil // or decoded again with its labels
	})
	if ok {
		out.Items = items
	}
	return ok
}

// decodeListContainers decodes a ListContainersResponse by hand, or reports
// false.
func decodeListContainers(b []byte, out *runtimeapi.ListContainersResponse) bool {
	var d listDecoder
	cs, ok := decodeList(b, func(b []byte) *runtimeapi.Container {
		if c := d.container(b); c != nil && containerNamed(c) {
			return c
		}
		return nil // or decoded again with its labels
	})
	if ok {
		out.Containers = cs
	}
	return ok
}

func (d *listDecoder) podSandbox(b []byte) *runtimeapi.PodSandbox {
	m := d.sb.new()
	it := fieldIter{b: b}
	for it.next() {
		ok := true
		switch {
		case it.single(1, protowire.BytesType):
			m.Id, ok = it.str()
		case it.single(2, protowire.BytesType):
			m.Metadata = d.podSandboxMetadata(it.bytes)
			ok = m.Metadata != nil
		case it.single(3, protowire.VarintType):
			m.State = runtimeapi.PodSandboxState(int32(it.v))
		case it.single(4, protowire.VarintType):
			m.CreatedAt = int64(it.v)
		case it.is(5, protowire.BytesType), it.is(6, protowire.BytesType):
			// labels (only where metadata lacks, see above), annotations:
			// dropped, as the trimming codec does.
		case it.single(7, protowire.BytesType):
			m.RuntimeHandler, ok = d.shared(&it)
		default:
			ok = false
		}
		if !ok {
			return nil
		}
	}
	if it.bad {
		return nil
	}
	return m
}

func (d *listDecoder) container(b []byte) *runtimeapi.Container {
	m := d.ctr.new()
	it := fieldIter{b: b}
	for it.next() {
		ok := true
		switch {
		case it.single(1, protowire.BytesType):
			m.Id, ok = it.str()
		case it.single(2, protowire.BytesType):
			m.PodSandboxId, ok = it.str()
		case it.single(3, protowire.BytesType):
			m.Metadata = d.containerMetadata(it.bytes)
			ok = m.Metadata != nil
		case it.single(4, protowire.BytesType):
			m.Image = d.imageSpec(it.bytes)
			ok = m.Image != nil
		case it.single(5, protowire.BytesType):
			m.ImageRef, ok = d.shared(&it)
		case it.single(6, protowire.VarintType):
			m.State = runtimeapi.ContainerState(int32(it.v))
		case it.single(7, protowire.VarintType):
			m.CreatedAt = int64(it.v)
		case it.is(8, protowire.BytesType), it.is(9, protowire.BytesType):
			// labels, annotations: dropped, as the trimming codec does.
		case it.single(10, protowire.BytesType):
			m.ImageId, ok = d.shared(&it)
		default:
			ok = false
		}
		if !ok {
			return nil
		}
	}
	if it.bad {
		return nil
	}
	return m
}

// imageSpec gives up on annotations (a map the standard decode builds).
func (d *listDecoder) imageSpec(b []byte) *runtimeapi.ImageSpec {
	m := d.image.new()
	it := fieldIter{b: b}
	for it.next() {
		var ok bool
		switch {
		case it.single(1, protowire.BytesType):
			m.Image, ok = d.shared(&it)
		case it.single(18, protowire.BytesType):
			m.UserSpecifiedImage, ok = d.shared(&it)
		case it.single(19, protowire.BytesType):
			m.RuntimeHandler, ok = d.shared(&it)
		case it.single(20, protowire.BytesType):
			m.ImageRef, ok = d.shared(&it)
		default:
			ok = false
		}
		if !ok {
			return nil
		}
	}
	if it.bad {
		return nil
	}
	return m
}
