package cri

import (
	"fmt"
	"slices"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Answers are decoded without the fields nothing here reads.
//
// The runtime repeats every sandbox's and container's labels and annotations
// in the list and stats answers; they are most of those answers' bytes, and
// decoding a map costs far more than the numbers around it (on the synthetic
// 1000-pod node, maps were two thirds of the decode). The provider reads
// labels only from the lists, as a fallback for missing metadata, and never
// reads annotations, so every answer is decoded without annotations and
// without labels: the trimming codec drops those fields from the wire bytes (a
// copy, no allocation per field) before the standard protobuf decode. A list
// answer in which a sandbox lacks its pod's name, namespace or UID, or a
// container its name, in the metadata is decoded again from the same bytes
// with its labels (the runtime is not asked twice): the kubelet's labels then
// name it, as before. The kubelet's runtimes fill the metadata, so on a real
// node the label maps (four to a container, the pod's own and three to a
// sandbox) are never built: they were a third of ListContainers' decode.
// Answers that hold only what this version of the API describes are decoded
// by hand instead (statsdecode.go, listdecode.go), into the same messages.
// Everything else, unknown fields included, is decoded as it came. A message it cannot walk is an error of the call, as a message the
// standard decode rejects would be; a malformed value inside a dropped field
// goes unnoticed, since nothing reads it.

// Field numbers from k8s.io/cri-api's api.proto (runtime.v1).
var (
	// ContainerAttributes and PodSandboxAttributes: 3 labels, 4 annotations.
	attributesTrim = &wireTrim{drop: []protowire.Number{3, 4}}
	// ContainerStats: 1 attributes.
	containerStatsTrim = &wireTrim{inner: []innerTrim{{1, attributesTrim}}}

	// ListPodSandboxStatsResponse: 1 stats (PodSandboxStats: 1 attributes,
	// 2 linux (LinuxPodSandboxStats: 5 containers)).
	podSandboxStatsTrim = &wireTrim{inner: []innerTrim{{1, &wireTrim{inner: []innerTrim{
		{1, attributesTrim},
		{2, &wireTrim{inner: []innerTrim{{5, containerStatsTrim}}}},
	}}}}}
	// ListContainerStatsResponse: 1 stats.
	containerStatsListTrim = &wireTrim{inner: []innerTrim{{1, containerStatsTrim}}}
	// ListContainersResponse: 1 containers (Container: 8 labels, 9
	// annotations); with the labels where a container's metadata lacks its
	// name.
	containersTrim       = &wireTrim{inner: []innerTrim{{1, &wireTrim{drop: []protowire.Number{8, 9}}}}}
	containersLabelsTrim = &wireTrim{inner: []innerTrim{{1, &wireTrim{drop: []protowire.Number{9}}}}}
	// ListPodSandboxResponse: 1 items (PodSandbox: 5 labels, 6 annotations);
	// with the labels where a sandbox's metadata lacks its pod's name,
	// namespace or UID.
	podSandboxesTrim       = &wireTrim{inner: []innerTrim{{1, &wireTrim{drop: []protowire.Number{5, 6}}}}}
	podSandboxesLabelsTrim = &wireTrim{inner: []innerTrim{{1, &wireTrim{drop: []protowire.Number{6}}}}}
	// PodSandboxStatusResponse: 1 status (PodSandboxStatus: 7 labels, 8
	// annotations), 2 info (verbose only).
	sandboxStatusTrim = &wireTrim{drop: []protowire.Number{2}, inner: []innerTrim{{1, &wireTrim{drop: []protowire.Number{7, 8}}}}}
	// ContainerStatusResponse: 1 status (ContainerStatus: 12 labels, 13
	// annotations, 14 mounts), 2 info (verbose only).
	containerStatusTrim = &wireTrim{drop: []protowire.Number{2}, inner: []innerTrim{{1, &wireTrim{drop: []protowire.Number{12, 13, 14}}}}}
)

// wireTrim describes what to drop from one message type: fields by number,
// and nested messages to trim in turn.
type wireTrim struct {
	drop  []protowire.Number
	inner []innerTrim
}

type innerTrim struct {
	num  protowire.Number
	trim *wireTrim
}

func (t *wireTrim) dropped(num protowire.Number) bool {
	for _, d := range t.drop {
		if d == num {
			return true
		}
	}
	return false
}

func (t *wireTrim) innerOf(num protowire.Number) *wireTrim {
	for _, in := range t.inner {
		if in.num == num {
			return in.trim
		}
	}
	return nil
}

// appendTrimmed appends src, a message t describes, to dst without the fields
// t drops. A nested message is trimmed into scratch[level] first, since its
// length prefix changes.
func (t *wireTrim) appendTrimmed(dst, src []byte, scratch *[][]byte, level int) ([]byte, error) {
	for len(src) > 0 {
		num, typ, n := protowire.ConsumeTag(src)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, src[n:])
		if m < 0 {
			return nil, fmt.Errorf("field %d: %w", num, protowire.ParseError(m))
		}
		field := src[:n+m]
		src = src[n+m:]
		if typ == protowire.BytesType && t.dropped(num) {
			// Only a map entry is dropped: the same number with another
			// wire type is an unknown field to the standard decode, and
			// kept as one.
			continue
		}
		inner := t.innerOf(num)
		if inner == nil || typ != protowire.BytesType {
			dst = append(dst, field...)
			continue
		}
		sub, _ := protowire.ConsumeBytes(field[n:])
		for len(*scratch) <= level {
			*scratch = append(*scratch, nil)
		}
		trimmed, err := inner.appendTrimmed((*scratch)[level][:0], sub, scratch, level+1)
		if err != nil {
			return nil, fmt.Errorf("field %d: %w", num, err)
		}
		(*scratch)[level] = trimmed
		dst = protowire.AppendTag(dst, num, protowire.BytesType)
		dst = protowire.AppendBytes(dst, trimmed)
	}
	return dst, nil
}

// trimBuffers are the buffers of one decode: the answer gathered from its
// frames, the trimmed answer and one scratch buffer per nesting level. They
// are pooled: a dense node's answers are megabytes.
type trimBuffers struct {
	in      []byte
	out     []byte
	scratch [][]byte
}

var trimPool = sync.Pool{New: func() any { return new(trimBuffers) }}

// maxPooledTrimBuffer keeps a single huge answer from pinning its buffers.
const maxPooledTrimBuffer = 4 * MaxMessageSize

// trimCodec decodes answers through a wireTrim and encodes requests as the
// standard proto codec does.
//
// Its name is empty, on purpose: grpc-go (rpc_util.go, setCallInfoCodec)
// takes a forced codec's Name as the call's content-subtype, and a codec named
// "proto" makes the call send "content-type: application/grpc+proto". CRI-O
// routes each connection of its socket by its first request with cmux,
// matching the content-type "application/grpc" exactly: a connection whose
// first call said "+proto" was closed (connection reset by peer). With no
// name there is no subtype, and every call sends "application/grpc", as the
// default codec's calls do; the server decodes the request with its default
// (proto) codec either way.
//
// A codec with labels set decodes the answer again through labels when
// needLabels says the first decode lacks what the labels would supply.
//
// A codec with fast set first tries it (statsdecode.go): it decodes the
// answer by hand, or reports false and leaves the message as it was.
type trimCodec struct {
	trim       *wireTrim
	labels     *wireTrim
	needLabels func(proto.Message) bool
	fast       func([]byte, proto.Message) bool
	proto      encoding.CodecV2
}

func newTrimCodec(t *wireTrim) trimCodec {
	return trimCodec{trim: t, proto: encoding.GetCodecV2(grpcproto.Name)}
}

// withLabels returns c decoding again through labels when needLabels reports
// a decoded answer that lacks what they would supply.
func (c trimCodec) withLabels(labels *wireTrim, needLabels func(proto.Message) bool) trimCodec {
	c.labels, c.needLabels = labels, needLabels
	return c
}

// withFast returns c trying fast first.
func (c trimCodec) withFast(fast func([]byte, proto.Message) bool) trimCodec {
	c.fast = fast
	return c
}

// fastFor adapts a hand decoder of answers of type M to the codec.
func fastFor[M proto.Message](decode func([]byte, M) bool) func([]byte, proto.Message) bool {
	return func(b []byte, m proto.Message) bool {
		out, ok := m.(M)
		return ok && decode(b, out)
	}
}

// sandboxesNeedLabels reports a sandbox whose metadata lacks its pod's name,
// namespace or UID (podRef then reads the kubelet's labels).
func sandboxesNeedLabels(m proto.Message) bool {
	for _, sb := range m.(*runtimeapi.ListPodSandboxResponse).GetItems() {
		if !sandboxNamed(sb) {
			return true
		}
	}
	return false
}

// sandboxNamed reports that a sandbox's metadata names its pod: name,
// namespace and UID.
func sandboxNamed(sb *runtimeapi.PodSandbox) bool {
	md := sb.GetMetadata()
	return md.GetName() != "" && md.GetNamespace() != "" && md.GetUid() != ""
}

// containerNamed reports that a container's metadata names it.
func containerNamed(c *runtimeapi.Container) bool {
	return c.GetMetadata().GetName() != ""
}

// containersNeedLabels reports a container whose metadata lacks its name
// (containerName then reads the kubelet's label).
func containersNeedLabels(m proto.Message) bool {
	for _, c := range m.(*runtimeapi.ListContainersResponse).GetContainers() {
		if !containerNamed(c) {
			return true
		}
	}
	return false
}

// Name is empty: no content-subtype on the wire (see trimCodec).
func (c trimCodec) Name() string { return "" }

func (c trimCodec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

func (c trimCodec) Unmarshal(data mem.BufferSlice, v any) error {
	msg, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("cri: cannot decode into %T, not a proto message", v)
	}
	b := trimPool.Get().(*trimBuffers)
	defer func() {
		if cap(b.out) <= maxPooledTrimBuffer && cap(b.in) <= maxPooledTrimBuffer {
			trimPool.Put(b)
		}
	}()
	raw := b.answer(data)
	if c.fast != nil && c.fast(raw, msg) {
		return nil
	}
	if err := c.decode(c.trim, raw, b, msg); err != nil || c.needLabels == nil || !c.needLabels(msg) {
		return err
	}
	proto.Reset(msg)
	return c.decode(c.labels, raw, b, msg)
}

// answer returns the answer's bytes: its one buffer as it came, or, for an
// answer that came in several frames, a copy in b.in. gRPC's
// MaterializeToBuffer would copy it into a pooled buffer that is zeroed first
// (grpc/mem's BinaryTieredBufferPool clears what it hands out): work for
// nothing, as every byte is overwritten. The bytes are valid until Unmarshal
// returns; the decoders copy what they keep.
func (b *trimBuffers) answer(data mem.BufferSlice) []byte {
	if len(data) == 1 {
		return data[0].ReadOnlyData()
	}
	b.in = slices.Grow(b.in[:0], data.Len())[:data.Len()]
	data.CopyTo(b.in)
	return b.in
}

func (c trimCodec) decode(t *wireTrim, data []byte, b *trimBuffers, msg proto.Message) error {
	out, err := t.appendTrimmed(b.out[:0], data, &b.scratch, 0)
	if err != nil {
		return fmt.Errorf("cri: malformed answer: %w", err)
	}
	b.out = out
	return proto.Unmarshal(out, msg)
}

// Call options that decode each list answer trimmed.
var (
	trimPodSandboxStats = grpc.ForceCodecV2(newTrimCodec(podSandboxStatsTrim).withFast(fastFor(decodeListPodSandboxStats)))
	trimContainerStats  = grpc.ForceCodecV2(newTrimCodec(containerStatsListTrim).withFast(fastFor(decodeListContainerStats)))
	trimContainers      = grpc.ForceCodecV2(newTrimCodec(containersTrim).withLabels(containersLabelsTrim, containersNeedLabels).withFast(fastFor(decodeListContainers)))
	trimPodSandboxes    = grpc.ForceCodecV2(newTrimCodec(podSandboxesTrim).withLabels(podSandboxesLabelsTrim, sandboxesNeedLabels).withFast(fastFor(decodeListPodSandbox)))
	trimSandboxStatus   = grpc.ForceCodecV2(newTrimCodec(sandboxStatusTrim))
	trimContainerStatus = grpc.ForceCodecV2(newTrimCodec(containerStatusTrim))
)
