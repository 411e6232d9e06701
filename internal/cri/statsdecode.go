package cri

import (
	"encoding/binary"
	"math"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The stats answers are decoded by hand when they hold only what this
// version of the API describes.
//
// protobuf-go's decode allocates every message on its own through reflection:
// a container's stats are some twenty objects (the stats, its attributes and
// metadata, CPU, memory, writable layer and swap, and a UInt64Value for every
// counter), and on a dense node the stats answer's decode was a fifth of a
// scrape, with the garbage collector's share of it on top. This decoder walks
// the wire bytes once, builds the same messages, and takes them from slabs
// (one allocation for many messages of a type), with the labels and
// annotations of the attributes skipped as the trimming codec drops them.
//
// It gives up — and the answer goes through the trimming codec and protobuf's
// own decode, whatever it holds — at anything it would have to decide as
// protobuf does for it to be exact: a field number or wire type it does not
// know (a newer runtime's fields are kept as unknown fields there), a
// singular field that repeats (merged or replaced there), a string that is
// not UTF-8 (an error there), the Windows stats, a malformed message. So an
// answer is decoded either by hand into exactly what the standard decode
// would give, less the dropped fields, or by the standard decode
// (TestStatsDecodeEqualsTrimmedDecode, FuzzStatsDecode).
//
// A slab stays reachable while any message in it is: the Summary keeps none
// of them (the assembly copies the values), and the identity plan keeps
// copies of what it needs (identityCache.keep). So the provider's
// ListPodSandboxStats answers are decoded into one statsDecoder again and
// again (Provider.decoder): its slabs' arrays, zeroed, serve the next
// answer, and a scrape allocates none (a quarter of a 110-pod scrape's
// bytes, and the garbage collector's work on them).

// slab hands out zeroed values of T from shared backing arrays. The arrays
// double from slabFirst to slabChunk values: an answer uses a few of most
// types (one pod's PSI, a node's handful of interfaces), and nineteen
// slabs of slabChunk values each were 150 KB zeroed for a one-pod answer.
//
// A slab remembers its arrays for reset.
type slab[T any] struct {
	buf    []T   // the array values are handed out from
	arrays [][]T // every array, in the order buf took them
	used   int   // arrays taken since the last reset
}

const (
	slabFirst = 4
	slabChunk = 128
)

func (s *slab[T]) new() *T {
	if len(s.buf) == cap(s.buf) {
		if s.used < len(s.arrays) {
			s.buf = s.arrays[s.used][:0]
		} else {
			s.buf = make([]T, 0, min(max(2*cap(s.buf), slabFirst), slabChunk))
			s.arrays = append(s.arrays, s.buf)
		}
		s.used++
	}
	s.buf = s.buf[:len(s.buf)+1]
	return &s.buf[len(s.buf)-1]
}

// reset zeroes every value handed out and takes them from the start again.
// The arrays the last use did not reach are let go: a slab keeps what its
// last answer needed. Nothing may hold a value handed out before.
func (s *slab[T]) reset() {
	for _, a := range s.arrays[:s.used] {
		clear(a[:cap(a)])
	}
	clear(s.arrays[s.used:])
	s.arrays, s.buf, s.used = s.arrays[:s.used], nil, 0
}

// statsDecoder decodes stats answers. An answer's messages are valid until
// reset, which readies it for the next answer.
type statsDecoder struct {
	u64     slab[runtimeapi.UInt64Value]
	cpu     slab[runtimeapi.CpuUsage]
	mem     slab[runtimeapi.MemoryUsage]
	fs      slab[runtimeapi.FilesystemUsage]
	fsID    slab[runtimeapi.FilesystemIdentifier]
	swap    slab[runtimeapi.SwapUsage]
	io      slab[runtimeapi.IoUsage]
	psi     slab[runtimeapi.PsiStats]
	psiData slab[runtimeapi.PsiData]
	cs      slab[runtimeapi.ContainerStats]
	cAttrs  slab[runtimeapi.ContainerAttributes]
	cMeta   slab[runtimeapi.ContainerMetadata]
	ps      slab[runtimeapi.PodSandboxStats]
	pAttrs  slab[runtimeapi.PodSandboxAttributes]
	pMeta   slab[runtimeapi.PodSandboxMetadata]
	linux   slab[runtimeapi.LinuxPodSandboxStats]
	net     slab[runtimeapi.NetworkUsage]
	iface   slab[runtimeapi.NetworkInterfaceUsage]
	process slab[runtimeapi.ProcessUsage]
	strings map[string]string // strings the answer repeats, shared (shared)
	call    grpc.CallOption   // decodes a ListPodSandboxStats answer into d (codec)
}

// codec is the call option that decodes a ListPodSandboxStats answer into d,
// made once for the decoder's life.
func (d *statsDecoder) codec() grpc.CallOption {
	if d.call == nil {
		d.call = grpc.ForceCodecV2(newTrimCodec(podSandboxStatsTrim).withFast(fastFor(d.listPodSandboxStats)))
	}
	return d.call
}

// shared is the current field as a string shared with equal ones of the
// answer (every pod names the same interfaces, every container the same
// filesystem and image), or false when it is not UTF-8.
func (d *statsDecoder) shared(it *fieldIter) (string, bool) {
	if s, ok := d.strings[string(it.bytes)]; ok {
		return s, true
	}
	s, ok := it.str()
	if !ok {
		return "", false
	}
	if d.strings == nil {
		d.strings = map[string]string{}
	}
	d.strings[s] = s
	return s, true
}

// reset readies d for another answer: the last one's messages are zeroed
// and handed out again.
func (d *statsDecoder) reset() {
	d.u64.reset()
	d.cpu.reset()
	d.mem.reset()
	d.fs.reset()
	d.fsID.reset()
	d.swap.reset()
	d.io.reset()
	d.psi.reset()
	d.psiData.reset()
	d.cs.reset()
	d.cAttrs.reset()
	d.cMeta.reset()
	d.ps.reset()
	d.pAttrs.reset()
	d.pMeta.reset()
	d.linux.reset()
	d.net.reset()
	d.iface.reset()
	d.process.reset()
	clear(d.strings)
}

// decodeListPodSandboxStats decodes a ListPodSandboxStatsResponse by hand, or
// reports false.
func decodeListPodSandboxStats(b []byte, out *runtimeapi.ListPodSandboxStatsResponse) bool {
	var d statsDecoder
	return d.listPodSandboxStats(b, out)
}

// listPodSandboxStats decodes a ListPodSandboxStatsResponse by hand into d's
// slabs, or reports false.
func (d *statsDecoder) listPodSandboxStats(b []byte, out *runtimeapi.ListPodSandboxStatsResponse) bool {
	stats, ok := decodeList(b, d.podSandboxStats)
	if ok {
		out.Stats = stats
	}
	return ok
}

// decodeListContainerStats decodes a ListContainerStatsResponse by hand, or
// reports false.
func decodeListContainerStats(b []byte, out *runtimeapi.ListContainerStatsResponse) bool {
	var d statsDecoder
	stats, ok := decodeList(b, d.containerStats)
	if ok {
		out.Stats = stats
	}
	return ok
}

// decodeList decodes the items of a list answer (its one field, 1) with
// item, or reports false when item gives up on one (a nil) or the answer is
// malformed. No items is a nil slice, as the standard decode leaves it.
func decodeList[T any](b []byte, item func([]byte) *T) ([]*T, bool) {
	items := make([]*T, 0, countField(b, 1))
	it := fieldIter{b: b}
	for it.next() {
		if !it.is(1, protowire.BytesType) {
			return nil, false
		}
		x := item(it.bytes)
		if x == nil {
			return nil, false
		}
		items = append(items, x)
	}
	if it.bad {
		return nil, false
	}
	if len(items) == 0 {
		return nil, true
	}
	return items, true
}

// countField counts the top-level fields numbered num (an estimate for a
// slice's capacity: a malformed b is rejected by the walk that follows).
func countField(b []byte, num protowire.Number) int {
	n := 0
	it := fieldIter{b: b}
	for it.next() {
		if it.num == num {
			n++
		}
	}
	return n
}

// fieldIter walks a message's fields. A wire type other than varint, fixed64
// or length-delimited, or a malformed field, stops it with bad set.
type fieldIter struct {
	b     []byte
	num   protowire.Number
	typ   protowire.Type
	v     uint64
	bytes []byte
	seen  uint64 // field numbers 1..63 met so far
	dup   bool   // the current field's number was met before
	bad   bool
}

func (it *fieldIter) next() bool {
	b := it.b
	if len(b) == 0 {
		return false
	}
	// One-byte tags, varints and lengths are read inline: they are nearly
	// every field of a stats answer.
	var tag uint64
	if b[0] < 0x80 {
		tag, b = uint64(b[0]), b[1:]
	} else {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			it.bad = true
			return false
		}
		tag, b = v, b[n:]
	}
	num, typ := protowire.Number(tag>>3), protowire.Type(tag&7)
	if num < protowire.MinValidNumber || tag>>3 > uint64(protowire.MaxValidNumber) {
		it.bad = true
		return false
	}
	switch typ {
	case protowire.VarintType:
		if len(b) > 0 && b[0] < 0x80 {
			it.v, b = uint64(b[0]), b[1:]
			break
		}
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			it.bad = true
			return false
		}
		it.v, b = v, b[n:]
	case protowire.Fixed64Type:
		if len(b) < 8 {
			it.bad = true
			return false
		}
		it.v, b = binary.LittleEndian.Uint64(b), b[8:]
	case protowire.BytesType:
		var l uint64
		if len(b) > 0 && b[0] < 0x80 {
			l, b = uint64(b[0]), b[1:]
		} else {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				it.bad = true
				return false
			}
			l, b = v, b[n:]
		}
		if l > uint64(len(b)) {
			it.bad = true
			return false
		}
		it.bytes, b = b[:l], b[l:]
	default:
		it.bad = true
		return false
	}
	it.b = b
	it.num, it.typ = num, typ
	it.dup = false
	if num < 64 {
		bit := uint64(1) << num
		it.dup = it.seen&bit != 0
		it.seen |= bit
	}
	return true
}

// is reports the current field is num with wire type typ.
func (it *fieldIter) is(num protowire.Number, typ protowire.Type) bool {
	return it.num == num && it.typ == typ
}

// single reports the current field is num with wire type typ, met for the
// first time in this message; a repeat makes the walk bad (protobuf merges or
// replaces, which is left to it).
func (it *fieldIter) single(num protowire.Number, typ protowire.Type) bool {
	if it.num != num || it.typ != typ {
		return false
	}
	if it.dup {
		it.bad = true
		return false
	}
	return true
}

// str is the current field as a string, or false when it is not UTF-8.
func (it *fieldIter) str() (string, bool) {
	if !utf8.Valid(it.bytes) {
		return "", false
	}
	return string(it.bytes), true
}

func (d *statsDecoder) uint64Value(b []byte) *runtimeapi.UInt64Value {
	m := d.u64.new()
	it := fieldIter{b: b}
	for it.next() {
		if !it.single(1, protowire.VarintType) {
			return nil
		}
		m.Value = it.v
	}
	if it.bad {
		return nil
	}
	return m
}

// u64Field decodes the current field into *dst, reporting false on failure.
func (d *statsDecoder) u64Field(it *fieldIter, dst **runtimeapi.UInt64Value) bool {
	*dst = d.uint64Value(it.bytes)
	return *dst != nil
}

func (d *statsDecoder) podSandboxStats(b []byte) *runtimeapi.PodSandboxStats {
	m := d.ps.new()
	it := fieldIter{b: b}
	for it.next() {
		switch {
		case it.single(1, protowire.BytesType):
			if m.Attributes = d.podSandboxAttributes(it.bytes); m.Attributes == nil {
				return nil
			}
		case it.single(2, protowire.BytesType):
			if m.Linux = d.linuxPodSandboxStats(it.bytes); m.Linux == nil {
				return nil
			}
		default: // 3 windows, and anything else
			return nil
		}
	}
	if it.bad {
		return nil
	}
	return m
}

func (d *statsDecoder) podSandboxAttributes(b []byte) *runtimeapi.PodSandboxAttributes {
	m := d.pAttrs.new()
	it := fieldIter{b: b}
	for it.next() {
		switch {
		case it.single(1, protowire.BytesType):
			s, ok := it.str()
			if !ok {
				return nil
			}
			m.Id = s
		case it.single(2, protowire.BytesType):
			if m.Metadata = d.podSandboxMetadata(it.bytes); m.Metadata == nil {
				return nil
			}
		case it.is(3, protowire.BytesType), it.is(4, protowire.BytesType):
			// labels, annotations: dropped, as the trimming codec does.
		default:
			return nil
		}
	}
	if it.bad {
		return nil
	}
	return m
}

func (d *statsDecoder) podSandboxMetadata(b []byte) *runtimeapi.PodSandboxMetadata {
	m := d.pMeta.new()
	it := fieldIter{b: b}
	for it.next() {
		var dst *string
		switch {
		case it.single(1, protowire.BytesType):
			dst = &m.Name
		case it.single(2, protowire.BytesType):
			dst = &m.Uid
		case it.single(3, protowire.BytesType):
			dst = &m.Namespace
		case it.single(4, protowire.VarintType):
			m.Attempt = uint32(it.v)
			continue
		default:
			return nil
		}
		s, ok := it.str()
		if !ok {
			return nil
		}
		*dst = s
	}
	if it.bad {
		return nil
	}
	return m
}

func (d *statsDecoder) linuxPodSandboxStats(b []byte) *runtimeapi.LinuxPodSandboxStats {
	m := d.linux.new()
	it := fieldIter{b: b}
	for it.next() {
		switch {
		case it.single(1, protowire.BytesType):
			if m.Cpu = d.cpuUsage(it.bytes); m.Cpu == nil {
				return nil
			}
		case it.single(2, protowire.BytesType):
			if m.Memory = d.memoryUsage(it.bytes); m.Memory == nil {
				return nil
			}
		case it.single(3, protowire.BytesType):
			if m.Network = d.networkUsage(it.bytes); m.Network == nil {
				return nil
			}
		case it.single(4, protowire.BytesType):
			if m.Process = d.processUsage(it.bytes); m.Process == nil {
				return nil
			}
		case it.is(5, protowire.BytesType):
			c := d.containerStats(it.bytes)
			if c == nil {
				return nil
			}
			m.Containers = append(m.Containers, c)
		case it.single(6, protowire.BytesType):
			if m.Io = d.ioUsage(it.bytes); m.Io == nil {
				return nil
			}
		default:
			return nil
		}
	}
	if it.bad {
		return nil
	}
	return m
}

func (d *statsDecoder) containerStats(b []byte) *runtimeapi.ContainerStats {
	m := d.cs.new()
	it := fieldIter{b: b}
	for it.next() {
		switch {
		case it.single(1, protowire.BytesType):
			if m.Attributes = d.containerAttributes(it.bytes); m.Attributes == nil {
				return nil
			}
		case it.single(2, protowire.BytesType):
			if m.Cpu = d.cpuUsage(it.bytes); m.Cpu == nil {
				return nil
			}
		case it.single(3, protowire.BytesType):
			if m.Memory = d.memoryUsage(it.bytes); m.Memory == nil {
				return nil
			}
		case it.single(4, protowire.BytesType):
			if m.WritableLayer = d.filesystemUsage(it.bytes); m.WritableLayer == nil {
				return nil
			}
		case it.single(5, protowire.BytesType):
			if m.Swap = d.swapUsage(it.bytes); m.Swap == nil {
				return nil
			}
		case it.single(6, protowire.BytesType):
			if m.Io = d.ioUsage(it.bytes); m.Io == nil {
				return nil
			}
		default:
			return nil
		}
	}
	if it.bad {
		return nil
	}
	return m
}

func (d *statsDecoder) containerAttributes(b []byte) *runtimeapi.ContainerAttributes {
	m := d.cAttrs.new()
	it := fieldIter{b: b}
	for it.next() {
		switch {
		case it.single(1, protowire.BytesType):
			s, ok := it.str()
			if !ok {
				return nil
			}
			m.Id = s
		case it.single(2, protowire.BytesType):
			if m.Metadata = d.containerMetadata(it.bytes); m.Metadata == nil {
				return nil
			}
		case it.is(3, protowire.BytesType), it.is(4, protowire.BytesType):
			// labels, annotations: dropped, as the trimming codec does.
		default:
			return nil
		}
	}
	if it.bad {
		return nil
	}
	return m
}

func (d *statsDecoder) containerMetadata(b []byte) *runtimeapi.ContainerMetadata {
	m := d.cMeta.new()
	it := fieldIter{b: b}
	for it.next() {
		switch {
		case it.single(1, protowire.BytesType):
			s, ok := it.str()
			if !ok {
				return nil
			}
			m.Name = s
		case it.single(2, protowire.VarintType):
			m.Attempt = uint32(it.v)
		default:
			return nil
		}
	}
	if it.bad {
		return nil
	}
	return m
}

func (d *statsDecoder) cpuUsage(b []byte) *runtimeapi.CpuUsage {
	m := d.cpu.new()
	it := fieldIter{b: b}
	for it.next() {
		ok := true
		switch {
		case it.single(1, protowire.VarintType):
			m.Timestamp = int64(it.v)
		case it.single(2, protowire.BytesType):
			ok = d.u64Field(&it, &m.UsageCoreNanoSeconds)
		case it.single(3, protowire.BytesType):
			ok = d.u64Field(&it, &m.UsageNanoCores)
		case it.single(4, protowire.BytesType):
			m.Psi = d.psiStats(it.bytes)
			ok = m.Psi != nil
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

func (d *statsDecoder) memoryUsage(b []byte) *runtimeapi.MemoryUsage {
	m := d.mem.new()
	it := fieldIter{b: b}
	for it.next() {
		ok := true
		switch {
		case it.single(1, protowire.VarintType):
			m.Timestamp = int64(it.v)
		case it.single(2, protowire.BytesType):
			ok = d.u64Field(&it, &m.WorkingSetBytes)
		case it.single(3, protowire.BytesType):
			ok = d.u64Field(&it, &m.AvailableBytes)
		case it.single(4, protowire.BytesType):
			ok = d.u64Field(&it, &m.UsageBytes)
		case it.single(5, protowire.BytesType):
			ok = d.u64Field(&it, &m.RssBytes)
		case it.single(6, protowire.BytesType):
			ok = d.u64Field(&it, &m.PageFaults)
		case it.single(7, protowire.BytesType):
			ok = d.u64Field(&it, &m.MajorPageFaults)
		case it.single(8, protowire.BytesType):
			m.Psi = d.psiStats(it.bytes)
			ok = m.Psi != nil
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

func (d *statsDecoder) networkUsage(b []byte) *runtimeapi.NetworkUsage {
	m := d.net.new()
	it := fieldIter{b: b}
	for it.next() {
		switch {
		case it.single(1, protowire.VarintType):
			m.Timestamp = int64(it.v)
		case it.single(2, protowire.BytesType):
			if m.DefaultInterface = d.networkInterfaceUsage(it.bytes); m.DefaultInterface == nil {
				return nil
			}
		case it.is(3, protowire.BytesType):
			i := d.networkInterfaceUsage(it.bytes)
			if i == nil {
				return nil
			}
			m.Interfaces = append(m.Interfaces, i)
		default:
			return nil
		}
	}
	if it.bad {
		return nil
	}
	return m
}

func (d *statsDecoder) networkInterfaceUsage(b []byte) *runtimeapi.NetworkInterfaceUsage {
	m := d.iface.new()
	it := fieldIter{b: b}
	for it.next() {
		var ok bool
		switch {
		case it.single(1, protowire.BytesType):
			m.Name, ok = d.shared(&it)
		case it.single(2, protowire.BytesType):
			ok = d.u64Field(&it, &m.RxBytes)
		case it.single(3, protowire.BytesType):
			ok = d.u64Field(&it, &m.RxErrors)
		case it.single(4, protowire.BytesType):
			ok = d.u64Field(&it, &m.TxBytes)
		case it.single(5, protowire.BytesType):
			ok = d.u64Field(&it, &m.TxErrors)
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

func (d *statsDecoder) processUsage(b []byte) *runtimeapi.ProcessUsage {
	m := d.process.new()
	it := fieldIter{b: b}
	for it.next() {
		ok := true
		switch {
		case it.single(1, protowire.VarintType):
			m.Timestamp = int64(it.v)
		case it.single(2, protowire.BytesType):
			ok = d.u64Field(&it, &m.ProcessCount)
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

func (d *statsDecoder) filesystemUsage(b []byte) *runtimeapi.FilesystemUsage {
	m := d.fs.new()
	it := fieldIter{b: b}
	for it.next() {
		ok := true
		switch {
		case it.single(1, protowire.VarintType):
			m.Timestamp = int64(it.v)
		case it.single(2, protowire.BytesType):
			m.FsId = d.filesystemIdentifier(it.bytes)
			ok = m.FsId != nil
		case it.single(3, protowire.BytesType):
			ok = d.u64Field(&it, &m.UsedBytes)
		case it.single(4, protowire.BytesType):
			ok = d.u64Field(&it, &m.InodesUsed)
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

func (d *statsDecoder) filesystemIdentifier(b []byte) *runtimeapi.FilesystemIdentifier {
	m := d.fsID.new()
	it := fieldIter{b: b}
	for it.next() {
		var ok bool
		if !it.single(1, protowire.BytesType) {
			return nil
		}
		if m.Mountpoint, ok = d.shared(&it); !ok {
			return nil
		}
	}
	if it.bad {
		return nil
	}
	return m
}

func (d *statsDecoder) swapUsage(b []byte) *runtimeapi.SwapUsage {
	m := d.swap.new()
	it := fieldIter{b: b}
	for it.next() {
		ok := true
		switch {
		case it.single(1, protowire.VarintType):
			m.Timestamp = int64(it.v)
		case it.single(2, protowire.BytesType):
			ok = d.u64Field(&it, &m.SwapAvailableBytes)
		case it.single(3, protowire.BytesType):
			ok = d.u64Field(&it, &m.SwapUsageBytes)
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

func (d *statsDecoder) ioUsage(b []byte) *runtimeapi.IoUsage {
	m := d.io.new()
	it := fieldIter{b: b}
	for it.next() {
		switch {
		case it.single(1, protowire.VarintType):
			m.Timestamp = int64(it.v)
		case it.single(2, protowire.BytesType):
			if m.Psi = d.psiStats(it.bytes); m.Psi == nil {
				return nil
			}
		default:
			return nil
		}
	}
	if it.bad {
		return nil
	}
	return m
}

func (d *statsDecoder) psiStats(b []byte) *runtimeapi.PsiStats {
	m := d.psi.new()
	it := fieldIter{b: b}
	for it.next() {
		switch {
		case it.single(1, protowire.BytesType):
			if m.Full = d.psiDataOf(it.bytes); m.Full == nil {
				return nil
			}
		case it.single(2, protowire.BytesType):
			if m.Some = d.psiDataOf(it.bytes); m.Some == nil {
				return nil
			}
		default:
			return nil
		}
	}
	if it.bad {
		return nil
	}
	return m
}

func (d *statsDecoder) psiDataOf(b []byte) *runtimeapi.PsiData {
	m := d.psiData.new()
	it := fieldIter{b: b}
	for it.next() {
		switch {
		case it.single(1, protowire.VarintType):
			m.Total = it.v
		case it.single(2, protowire.Fixed64Type):
			m.Avg10 = math.Float64frombits(it.v)
		case it.single(3, protowire.Fixed64Type):
			m.Avg60 = math.Float64frombits(it.v)
		case it.single(4, protowire.Fixed64Type):
			m.Avg300 = math.Float64frombits(it.v)
		default:
			return nil
		}
	}
	if it.bad {
		return nil
	}
	return m
}
