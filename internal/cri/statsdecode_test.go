package cri

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/crifake"
)

// richStats is a synthetic node's stats with every field this version of the
// API gives a Linux pod or container set: PSI, I/O, swap, every network
// interface, attempts, labels and annotations.
func richStats(t testing.TB) crifake.State {
	t.Helper()
	st := crifake.Synthetic(crifake.SyntheticNode{Pods: 5, ContainersPerPod: 3})
	psi := func(n uint64) *runtimeapi.PsiStats {
		return &runtimeapi.PsiStats{
			Full: &runtimeapi.PsiData{Total: n, Avg10: 0.25, Avg60: 1.5, Avg300: 3.75},
			Some: &runtimeapi.PsiData{Total: 2 * n, Avg10: 0.5},
		}
	}
	for i, ps := range st.PodSandboxStats {
		n := uint64(i + 1)
		ps.Attributes.Metadata.Attempt = uint32(i)
		ps.Linux.Cpu.UsageNanoCores = &runtimeapi.UInt64Value{Value: 7 * n}
		ps.Linux.Cpu.Psi = psi(n)
		ps.Linux.Memory.Psi = psi(3 * n)
		ps.Linux.Memory.AvailableBytes = &runtimeapi.UInt64Value{}
		ps.Linux.Io = &runtimeapi.IoUsage{Timestamp: -1, Psi: psi(5 * n)}
		eth1 := &runtimeapi.NetworkInterfaceUsage{Name: "eth1", RxBytes: &runtimeapi.UInt64Value{Value: n}, RxErrors: &runtimeapi.UInt64Value{Value: 1}, TxBytes: &runtimeapi.UInt64Value{Value: 2 * n}, TxErrors: &runtimeapi.UInt64Value{}}
		ps.Linux.Network.Interfaces = []*runtimeapi.NetworkInterfaceUsage{ps.Linux.Network.DefaultInterface, eth1}
		for j, c := range ps.Linux.Containers {
			c.Attributes.Metadata.Attempt = uint32(j + 1)
			c.Cpu.Psi = psi(n + uint64(j))
			c.Io = &runtimeapi.IoUsage{Timestamp: 9, Psi: &runtimeapi.PsiStats{Some: &runtimeapi.PsiData{Total: 4}}}
			c.Swap = &runtimeapi.SwapUsage{Timestamp: 11, SwapAvailableBytes: &runtimeapi.UInt64Value{Value: 1 << 30}, SwapUsageBytes: &runtimeapi.UInt64Value{Value: n << 20}}
		}
	}
	// One empty pod and one empty container: present, with nothing set.
	st.PodSandboxStats = append(st.PodSandboxStats, &runtimeapi.PodSandboxStats{})
	st.PodSandboxStats[0].Linux.Containers = append(st.PodSandboxStats[0].Linux.Containers, &runtimeapi.ContainerStats{Cpu: &runtimeapi.CpuUsage{}})
	return st
}

// trimmedStandard decodes b as the trimming codec does without the hand
// decoder: the reference the hand decoder must equal.
func trimmedStandard(t testing.TB, trim *wireTrim, b []byte, into proto.Message) error {
	t.Helper()
	out, err := trim.appendTrimmed(nil, b, new([][]byte), 0)
	if err != nil {
		return err
	}
	return proto.Unmarshal(out, into)
}

func TestStatsDecodeEqualsTrimmedDecode(t *testing.T) {
	st := richStats(t)

	b := mustMarshal(t, &runtimeapi.ListPodSandboxStatsResponse{Stats: st.PodSandboxStats})
	var got, want runtimeapi.ListPodSandboxStatsResponse
	require.True(t, decodeListPodSandboxStats(b, &got), "the hand decoder gave up on an answer it describes")
	require.NoError(t, trimmedStandard(t, podSandboxStatsTrim, b, &want))
	assert.True(t, proto.Equal(&want, &got), "hand decode differs:\nwant %v\ngot  %v", &want, &got)
	// What the comparison stands on: values really decoded, labels really gone.
	require.Len(t, got.Stats, 6)
	p := got.Stats[1]
	assert.Equal(t, st.PodSandboxStats[1].Attributes.Metadata.Uid, p.Attributes.Metadata.Uid)
	assert.Equal(t, uint32(1), p.Attributes.Metadata.Attempt)
	assert.Empty(t, p.Attributes.Labels)
	assert.Equal(t, 1.5, p.Linux.Memory.Psi.Full.Avg60)
	assert.Equal(t, int64(-1), p.Linux.Io.Timestamp)
	assert.NotNil(t, p.Linux.Memory.AvailableBytes, "a zero wrapper stays set")
	assert.Equal(t, "eth1", p.Linux.Network.Interfaces[1].Name)
	assert.Equal(t, uint64(2<<20), p.Linux.Containers[2].Swap.SwapUsageBytes.Value)
	assert.Empty(t, p.Linux.Containers[0].Attributes.Annotations)
	assert.NotNil(t, got.Stats[5], "an empty pod's stats are there")

	cb := mustMarshal(t, &runtimeapi.ListContainerStatsResponse{Stats: st.PodSandboxStats[0].Linux.Containers})
	var cgot, cwant runtimeapi.ListContainerStatsResponse
	require.True(t, decodeListContainerStats(cb, &cgot))
	require.NoError(t, trimmedStandard(t, containerStatsListTrim, cb, &cwant))
	assert.True(t, proto.Equal(&cwant, &cgot), "hand decode differs:\nwant %v\ngot  %v", &cwant, &cgot)
	require.Len(t, cgot.Stats, 4)
	assert.Equal(t, st.ContainerStats[1].Cpu.UsageCoreNanoSeconds.Value, cgot.Stats[1].Cpu.UsageCoreNanoSeconds.Value)

	var empty runtimeapi.ListPodSandboxStatsResponse
	require.True(t, decodeListPodSandboxStats(nil, &empty))
	assert.Empty(t, empty.Stats)
}

// The hand decoder gives up on whatever it would have to decide as protobuf
// does, and the codec then gives the standard decode's answer.
func TestStatsDecodeGivesUp(t *testing.T) {
	st := crifake.Synthetic(crifake.SyntheticNode{Pods: 2, ContainersPerPod: 2})
	good := mustMarshal(t, &runtimeapi.ListPodSandboxStatsResponse{Stats: st.PodSandboxStats})
	wrap := func(pod []byte) []byte { // one pod's stats as a whole answer
		return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), pod)
	}
	pod := mustMarshal(t, st.PodSandboxStats[0])
	field := func(b []byte, num protowire.Number, typ protowire.Type, v []byte) []byte {
		b = protowire.AppendTag(b, num, typ)
		switch typ {
		case protowire.BytesType:
			return protowire.AppendBytes(b, v)
		case protowire.Fixed32Type:
			return protowire.AppendFixed32(b, 7)
		default:
			return protowire.AppendVarint(b, 7)
		}
	}
	windows := mustMarshal(t, &runtimeapi.PodSandboxStats{Windows: &runtimeapi.WindowsPodSandboxStats{}})
	for name, c := range map[string]struct {
		b        []byte
		standard bool // the standard decode accepts it
	}{
		"an unknown field in a pod":       {wrap(field(append([]byte{}, pod...), 40, protowire.VarintType, nil)), true},
		"an unknown field deep down":      {wrap(field(nil, 2, protowire.BytesType, field(nil, 1, protowire.BytesType, field(nil, 9, protowire.VarintType, nil)))), true},
		"a field number past 63":          {wrap(field(nil, 100, protowire.BytesType, []byte("x"))), true},
		"a known field, another type":     {wrap(field(nil, 1, protowire.VarintType, nil)), true},
		"a fixed32 field":                 {wrap(field(nil, 2, protowire.BytesType, field(nil, 12, protowire.Fixed32Type, nil))), true},
		"a singular field twice (merged)": {wrap(append(append([]byte{}, pod...), pod...)), true},
		"the Windows stats":               {wrap(windows), true},
		"labels, not as a map entry":      {wrap(field(nil, 1, protowire.BytesType, field(nil, 3, protowire.VarintType, nil))), true},
		"an ID not UTF-8":                 {wrap(field(nil, 1, protowire.BytesType, field(nil, 1, protowire.BytesType, []byte{0xff, 0xfe}))), false},
		"truncated":                       {good[:len(good)-2], false},
		"a top-level field, another num":  {field(append([]byte{}, good...), 2, protowire.BytesType, []byte{}), true},
	} {
		t.Run(name, func(t *testing.T) {
			var fast runtimeapi.ListPodSandboxStatsResponse
			assert.False(t, decodeListPodSandboxStats(c.b, &fast), "the hand decoder took it")
			assert.Empty(t, fast.Stats, "a decode given up leaves the answer as it was")

			var want runtimeapi.ListPodSandboxStatsResponse
			werr := trimmedStandard(t, podSandboxStatsTrim, c.b, &want)
			require.Equal(t, c.standard, werr == nil, "the standard decode: %v", werr)
			got, err := trimDecode(trimCases[0], c.b)
			if !c.standard {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.True(t, proto.Equal(&want, got), "the codec's fallback differs from the standard decode")
		})
	}
}

// checkHandDecode fails when decode takes b and the standard decode through
// trim rejects it or gives another answer. *R is the answer's message type.
func checkHandDecode[R any, M interface {
	*R
	proto.Message
}](t *testing.T, b []byte, decode func([]byte, M) bool, trim *wireTrim) {
	t.Helper()
	got, want := M(new(R)), M(new(R))
	if !decode(b, got) {
		return
	}
	require.NoError(t, trimmedStandard(t, trim, b, want), "the hand decoder took an answer the standard decode rejects")
	require.True(t, proto.Equal(want, got), "want %v\ngot  %v", want, got)
}

// FuzzStatsDecode: whatever the bytes, an answer the hand decoder takes is
// one the standard decode accepts, and the two decodes are equal.
func FuzzStatsDecode(f *testing.F) {
	st := richStats(f)
	f.Add(true, mustMarshal(f, &runtimeapi.ListPodSandboxStatsResponse{Stats: st.PodSandboxStats}))
	f.Add(false, mustMarshal(f, &runtimeapi.ListContainerStatsResponse{Stats: st.ContainerStats}))
	f.Fuzz(func(t *testing.T, sandboxes bool, b []byte) {
		if sandboxes {
			checkHandDecode(t, b, decodeListPodSandboxStats, podSandboxStatsTrim)
			return
		}
		checkHandDecode(t, b, decodeListContainerStats, containerStatsListTrim)
	})
}

func BenchmarkStatsDecode(b *testing.B) {
	for _, pods := range []int{110, 1000} {
		st := crifake.Synthetic(crifake.SyntheticNode{Pods: pods, ContainersPerPod: 3})
		data := mustMarshal(b, &runtimeapi.ListPodSandboxStatsResponse{Stats: st.PodSandboxStats})
		b.Run("hand/"+strconv.Itoa(pods), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var m runtimeapi.ListPodSandboxStatsResponse
				if !decodeListPodSandboxStats(data, &m) {
					b.Fatal("gave up")
				}
			}
		})
		b.Run("standard/"+strconv.Itoa(pods), func(b *testing.B) {
			b.ReportAllocs()
			buf := new([][]byte)
			for b.Loop() {
				var m runtimeapi.ListPodSandboxStatsResponse
				out, err := podSandboxStatsTrim.appendTrimmed(nil, data, buf, 0)
				if err != nil {
					b.Fatal(err)
				}
				if err := proto.Unmarshal(out, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// richLists is a synthetic node's identity lists with every field this
// version of the API gives a sandbox or a container set.
func richLists(t testing.TB) crifake.State {
	t.Helper()
	st := crifake.Synthetic(crifake.SyntheticNode{Pods: 4, ContainersPerPod: 3})
	for i, sb := range st.Sandboxes {
		sb.Metadata.Attempt = uint32(i)
		sb.RuntimeHandler = "runc"
		if i == 2 {
			sb.State = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
		}
	}
	for i, c := range st.Containers {
		c.Metadata = &runtimeapi.ContainerMetadata{Name: c.Metadata.Name, Attempt: uint32(i % 2)}
		c.ImageId = "sha256:" + c.ImageRef[7:]
		c.Image = &runtimeapi.ImageSpec{Image: c.Image.Image, UserSpecifiedImage: "app:1.2.3", RuntimeHandler: "runc", ImageRef: c.ImageRef}
		if i == 5 {
			c.State = runtimeapi.ContainerState_CONTAINER_EXITED
			c.CreatedAt = -3
		}
	}
	return st
}

func TestListDecodeEqualsTrimmedDecode(t *testing.T) {
	st := richLists(t)

	b := mustMarshal(t, &runtimeapi.ListPodSandboxResponse{Items: st.Sandboxes})
	var got, want runtimeapi.ListPodSandboxResponse
	require.True(t, decodeListPodSandbox(b, &got), "the hand decoder gave up on an answer it describes")
	require.NoError(t, trimmedStandard(t, podSandboxesTrim, b, &want))
	assert.True(t, proto.Equal(&want, &got), "hand decode differs:\nwant %v\ngot  %v", &want, &got)
	require.Len(t, got.Items, 4)
	assert.Equal(t, runtimeapi.PodSandboxState_SANDBOX_NOTREADY, got.Items[2].State)
	assert.Equal(t, st.Sandboxes[1].Metadata.Uid, got.Items[1].Metadata.Uid)
	assert.Equal(t, st.Sandboxes[1].CreatedAt, got.Items[1].CreatedAt)
	assert.Equal(t, "runc", got.Items[3].RuntimeHandler)
	assert.Empty(t, got.Items[0].Labels)
	assert.Empty(t, got.Items[0].Annotations)

	cb := mustMarshal(t, &runtimeapi.ListContainersResponse{Containers: st.Containers})
	var cgot, cwant runtimeapi.ListContainersResponse
	require.True(t, decodeListContainers(cb, &cgot), "the hand decoder gave up on an answer it describes")
	require.NoError(t, trimmedStandard(t, containersTrim, cb, &cwant))
	assert.True(t, proto.Equal(&cwant, &cgot), "hand decode differs:\nwant %v\ngot  %v", &cwant, &cgot)
	require.Len(t, cgot.Containers, 12)
	c := cgot.Containers[5]
	assert.Equal(t, runtimeapi.ContainerState_CONTAINER_EXITED, c.State)
	assert.Equal(t, int64(-3), c.CreatedAt)
	assert.Equal(t, st.Containers[5].PodSandboxId, c.PodSandboxId)
	assert.Equal(t, "app:1.2.3", c.Image.UserSpecifiedImage)
	assert.Equal(t, st.Containers[5].ImageId, c.ImageId)
	assert.Equal(t, uint32(1), c.Metadata.Attempt)
	assert.Empty(t, c.Labels)
}

func TestListDecodeGivesUp(t *testing.T) {
	unnamed := richLists(t)
	unnamed.Sandboxes[1].Metadata.Uid = ""
	unnamed.Containers[4].Metadata.Name = ""
	annotated := richLists(t)
	annotated.Containers[0].Image.Annotations = map[string]string{"k": "v"}
	unknown := protowire.AppendVarint(protowire.AppendTag(nil, 30, protowire.VarintType), 1)

	sandboxes := map[string][]byte{
		"a sandbox without a UID (decoded with labels)": mustMarshal(t, &runtimeapi.ListPodSandboxResponse{Items: unnamed.Sandboxes}),
		"an unknown field": protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType),
			append(mustMarshal(t, unnamed.Sandboxes[0]), unknown...)),
	}
	for name, b := range sandboxes {
		t.Run(name, func(t *testing.T) {
			var fast runtimeapi.ListPodSandboxResponse
			assert.False(t, decodeListPodSandbox(b, &fast))
			assert.Empty(t, fast.Items)
		})
	}
	containers := map[string][]byte{
		"a container without a name (decoded with labels)": mustMarshal(t, &runtimeapi.ListContainersResponse{Containers: unnamed.Containers}),
		"an image with annotations":                        mustMarshal(t, &runtimeapi.ListContainersResponse{Containers: annotated.Containers}),
		"an unknown field": protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType),
			append(mustMarshal(t, annotated.Containers[1]), unknown...)),
	}
	for name, b := range containers {
		t.Run(name, func(t *testing.T) {
			var fast runtimeapi.ListContainersResponse
			assert.False(t, decodeListContainers(b, &fast))
			assert.Empty(t, fast.Containers)
		})
	}
	// Through the codec, the unnamed ones still get their labels.
	got, err := trimDecode(trimCases[3], sandboxes["a sandbox without a UID (decoded with labels)"])
	require.NoError(t, err)
	assert.Equal(t, unnamed.Sandboxes[1].Labels["io.kubernetes.pod.uid"], podRef(got.(*runtimeapi.ListPodSandboxResponse).Items[1]).UID)
	got, err = trimDecode(trimCases[2], containers["an image with annotations"])
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"k": "v"}, got.(*runtimeapi.ListContainersResponse).Containers[0].Image.Annotations)
}

// FuzzListDecode: an identity list the hand decoder takes is one the standard
// decode accepts, and the two decodes are equal.
func FuzzListDecode(f *testing.F) {
	st := richLists(f)
	f.Add(true, mustMarshal(f, &runtimeapi.ListPodSandboxResponse{Items: st.Sandboxes}))
	f.Add(false, mustMarshal(f, &runtimeapi.ListContainersResponse{Containers: st.Containers}))
	f.Fuzz(func(t *testing.T, sandboxes bool, b []byte) {
		if sandboxes {
			checkHandDecode(t, b, decodeListPodSandbox, podSandboxesTrim)
			return
		}
		checkHandDecode(t, b, decodeListContainers, containersTrim)
	})
}

// A slab's arrays double from slabFirst to slabChunk values, and every value
// it hands out is zeroed and its own.
func TestSlabGrowsByDoubling(t *testing.T) {
	var s slab[runtimeapi.UInt64Value]
	seen := map[*runtimeapi.UInt64Value]bool{}
	var caps []int
	for i := range 3*slabChunk + 1 {
		v := s.new()
		require.Zero(t, v.Value, "value %d", i)
		require.False(t, seen[v], "value %d handed out twice", i)
		seen[v] = true
		v.Value = uint64(i + 1)
		if len(s.buf) == 1 {
			caps = append(caps, cap(s.buf))
		}
	}
	// 4+8+16+32+64 = 124 values, then arrays of 128: 3*128+1 = 385 values
	// need 124 + 128 + 128 + 5 → three arrays of 128 after the doubling.
	assert.Equal(t, []int{4, 8, 16, 32, 64, 128, 128, 128}, caps)
	// Values handed out earlier are not overwritten by later ones: each
	// still holds the number it was given.
	values := map[uint64]bool{}
	for v := range seen {
		values[v.Value] = true
	}
	assert.Len(t, values, 3*slabChunk+1)
	assert.False(t, values[0])
}
