package cri

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/statssummary/statssummary/internal/crifake"
)

// trimCase is one list answer type: a codec that trims it, a new empty
// answer, and what the trimmed decode must equal: the full decode with the
// dropped fields cleared.
type trimCase struct {
	name  string
	codec trimCodec
	empty func() proto.Message
	clear func(proto.Message)
}

func clearAttrs(a interface {
	GetLabels() map[string]string
}) {
	switch a := a.(type) {
	case *runtimeapi.PodSandboxAttributes:
		a.Labels, a.Annotations = nil, nil
	case *runtimeapi.ContainerAttributes:
		a.Labels, a.Annotations = nil, nil
	}
}

var trimCases = []trimCase{
	{
		name:  "ListPodSandboxStats",
		codec: newTrimCodec(podSandboxStatsTrim).withFast(fastFor(decodeListPodSandboxStats)),
		empty: func() proto.Message { return &runtimeapi.ListPodSandboxStatsResponse{} },
		clear: func(m proto.Message) {
			for _, s := range m.(*runtimeapi.ListPodSandboxStatsResponse).GetStats() {
				if s.GetAttributes() != nil {
					clearAttrs(s.Attributes)
				}
				for _, c := range s.GetLinux().GetContainers() {
					if c.GetAttributes() != nil {
						clearAttrs(c.Attributes)
					}
				}
			}
		},
	},
	{
		name:  "ListContainerStats",
		codec: newTrimCodec(containerStatsListTrim).withFast(fastFor(decodeListContainerStats)),
		empty: func() proto.Message { return &runtimeapi.ListContainerStatsResponse{} },
		clear: func(m proto.Message) {
			for _, c := range m.(*runtimeapi.ListContainerStatsResponse).GetStats() {
				if c.GetAttributes() != nil {
					clearAttrs(c.Attributes)
				}
			}
		},
	},
	{
		name:  "ListContainers",
		codec: newTrimCodec(containersTrim).withLabels(containersLabelsTrim, containersNeedLabels).withFast(fastFor(decodeListContainers)),
		empty: func() proto.Message { return &runtimeapi.ListContainersResponse{} },
		clear: func(m proto.Message) {
			// Labels stay only when some container has no name in its
			// metadata.
			cs := m.(*runtimeapi.ListContainersResponse).GetContainers()
			named := true
			for _, c := range cs {
				if c.GetMetadata().GetName() == "" {
					named = false
				}
			}
			for _, c := range cs {
				if c != nil {
					c.Annotations = nil
					if named {
						c.Labels = nil
					}
				}
			}
		},
	},
	{
		name:  "ListPodSandbox",
		codec: newTrimCodec(podSandboxesTrim).withLabels(podSandboxesLabelsTrim, sandboxesNeedLabels).withFast(fastFor(decodeListPodSandbox)),
		empty: func() proto.Message { return &runtimeapi.ListPodSandboxResponse{} },
		clear: func(m proto.Message) {
			// Labels stay only when some sandbox's metadata lacks its
			// pod's name, namespace or UID.
			items := m.(*runtimeapi.ListPodSandboxResponse).GetItems()
			whole := true
			for _, s := range items {
				md := s.GetMetadata()
				if md.GetName() == "" || md.GetNamespace() == "" || md.GetUid() == "" {
					whole = false
				}
			}
			for _, s := range items {
				if s != nil {
					s.Annotations = nil
					if whole {
						s.Labels = nil
					}
				}
			}
		},
	},
	{
		name:  "PodSandboxStatus",
		codec: newTrimCodec(sandboxStatusTrim),
		empty: func() proto.Message { return &runtimeapi.PodSandboxStatusResponse{} },
		clear: func(m proto.Message) {
			r := m.(*runtimeapi.PodSandboxStatusResponse)
			r.Info = nil
			if r.Status != nil {
				r.Status.Labels, r.Status.Annotations = nil, nil
			}
		},
	},
}

// syntheticAnswers are the four list answers of a synthetic node and a
// sandbox status answer, encoded.
func syntheticAnswers(t testing.TB) map[string][]byte {
	t.Helper()
	st := crifake.Synthetic(crifake.SyntheticNode{Pods: 4, ContainersPerPod: 3})
	out := map[string][]byte{}
	for name, m := range map[string]proto.Message{
		"ListPodSandboxStats": &runtimeapi.ListPodSandboxStatsResponse{Stats: st.PodSandboxStats},
		"ListContainerStats":  &runtimeapi.ListContainerStatsResponse{Stats: st.ContainerStats},
		"ListContainers":      &runtimeapi.ListContainersResponse{Containers: st.Containers},
		"ListPodSandbox":      &runtimeapi.ListPodSandboxResponse{Items: st.Sandboxes},
		"PodSandboxStatus": &runtimeapi.PodSandboxStatusResponse{
			Status: &runtimeapi.PodSandboxStatus{
				Id: st.Sandboxes[0].Id, Metadata: st.Sandboxes[0].Metadata, State: st.Sandboxes[0].State, CreatedAt: st.Sandboxes[0].CreatedAt,
				Network:     &runtimeapi.PodSandboxNetworkStatus{Ip: "10.0.0.7"},
				Linux:       &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{Options: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE}}},
				Labels:      st.Sandboxes[0].Labels,
				Annotations: st.Sandboxes[0].Annotations,
			},
			Info:      map[string]string{"info": `{"pid": 42}`},
			Timestamp: 7,
		},
	} {
		b, err := proto.Marshal(m)
		require.NoError(t, err)
		out[name] = b
	}
	return out
}

func trimDecode(c trimCase, b []byte) (proto.Message, error) {
	m := c.empty()
	return m, c.codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, m)
}

// checkTrimmed fails when the trimmed decode of b differs from the full decode
// with the dropped fields cleared. A b the full decode rejects is skipped:
// the trimmed decode may accept it when the fault lies in a dropped field.
func checkTrimmed(t *testing.T, c trimCase, b []byte) {
	t.Helper()
	want := c.empty()
	if err := proto.Unmarshal(b, want); err != nil {
		return
	}
	c.clear(want)
	got, err := trimDecode(c, b)
	if err != nil {
		t.Fatalf("%s: the full decode accepts the answer, the trimmed one fails: %v", c.name, err)
	}
	if !proto.Equal(want, got) {
		t.Fatalf("%s: trimmed decode differs:\nwant %v\ngot  %v", c.name, want, got)
	}
}

func TestTrimmedDecode(t *testing.T) {
	answers := syntheticAnswers(t)
	for _, c := range trimCases {
		t.Run(c.name, func(t *testing.T) {
			b := answers[c.name]
			checkTrimmed(t, c, b)
			got, err := trimDecode(c, b)
			require.NoError(t, err)
			// What is kept is really there, and what is dropped really gone.
			switch m := got.(type) {
			case *runtimeapi.ListPodSandboxStatsResponse:
				require.Len(t, m.Stats, 4)
				assert.NotEmpty(t, m.Stats[0].Attributes.Id)
				assert.NotEmpty(t, m.Stats[0].Attributes.Metadata.Uid)
				assert.Empty(t, m.Stats[0].Attributes.Labels)
				require.Len(t, m.Stats[0].Linux.Containers, 3)
				assert.NotNil(t, m.Stats[0].Linux.Containers[0].Cpu.UsageCoreNanoSeconds)
				assert.Empty(t, m.Stats[0].Linux.Containers[0].Attributes.Annotations)
			case *runtimeapi.ListContainersResponse:
				require.Len(t, m.Containers, 12)
				assert.Equal(t, "ctr-0", m.Containers[0].Metadata.Name)
				assert.Empty(t, m.Containers[0].Labels, "every container is named by its metadata")
				assert.Empty(t, m.Containers[0].Annotations)
			case *runtimeapi.ListPodSandboxResponse:
				require.Len(t, m.Items, 4)
				assert.NotEmpty(t, m.Items[0].Metadata.Uid)
				assert.Empty(t, m.Items[0].Labels, "every sandbox is named by its metadata")
				assert.Empty(t, m.Items[0].Annotations)
			}
			assert.Less(t, len(mustMarshal(t, got)), len(b), "nothing was trimmed")
		})
	}
}

// An answer gRPC hands over in several buffers (frames) decodes as the same
// bytes in one: each case's answer is cut in pieces of 1, 7 and 4096 bytes.
// The codec gathers them into a pooled buffer it does not zero, so each decode
// follows one of a longer answer whose bytes are still in that buffer.
func TestTrimmedDecodeOfAnswerInPieces(t *testing.T) {
	answers := syntheticAnswers(t)
	longest := 0
	for _, b := range answers {
		longest = max(longest, len(b))
	}
	garbage := mem.BufferSlice{mem.SliceBuffer(bytes.Repeat([]byte{0xff}, 2*longest)), mem.SliceBuffer([]byte{0xff})}
	for _, c := range trimCases {
		b := answers[c.name]
		want, err := trimDecode(c, b)
		require.NoError(t, err, c.name)
		for _, piece := range []int{1, 7, 4096} {
			var data mem.BufferSlice
			for rest := b; len(rest) > 0; {
				n := min(piece, len(rest))
				data = append(data, mem.SliceBuffer(rest[:n]))
				rest = rest[n:]
			}
			// Leave a pooled buffer full of bytes that are not this answer's.
			assert.Error(t, c.codec.Unmarshal(garbage, c.empty()), "%s: 0xff bytes decoded", c.name)
			got := c.empty()
			require.NoError(t, c.codec.Unmarshal(data, got), "%s in pieces of %d", c.name, piece)
			assert.True(t, proto.Equal(want, got), "%s in pieces of %d:\nwant %v\ngot  %v", c.name, piece, want, got)
		}
	}
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}

// A list in which one item's metadata lacks what names it is decoded again
// with every item's labels, and the provider names it from them.
func TestTrimmedListsKeepLabelsWhereMetadataLacks(t *testing.T) {
	st := crifake.Synthetic(crifake.SyntheticNode{Pods: 3, ContainersPerPod: 2})
	st.Containers[3].Metadata = nil
	st.Sandboxes[1].Metadata.Namespace = ""
	for _, c := range []struct {
		tc  trimCase
		msg proto.Message
	}{
		{trimCases[2], &runtimeapi.ListContainersResponse{Containers: st.Containers}},
		{trimCases[3], &runtimeapi.ListPodSandboxResponse{Items: st.Sandboxes}},
	} {
		t.Run(c.tc.name, func(t *testing.T) {
			b := mustMarshal(t, c.msg)
			checkTrimmed(t, c.tc, b)
			got, err := trimDecode(c.tc, b)
			require.NoError(t, err)
			switch m := got.(type) {
			case *runtimeapi.ListContainersResponse:
				assert.Empty(t, m.Containers[3].Annotations)
				assert.Equal(t, "ctr-1", containerName(m.Containers[3]), "named by its label")
				assert.NotEmpty(t, m.Containers[0].Labels, "the whole answer decoded again")
			case *runtimeapi.ListPodSandboxResponse:
				assert.Empty(t, m.Items[1].Annotations)
				ref := podRef(m.Items[1])
				assert.Equal(t, st.Sandboxes[1].Labels["io.kubernetes.pod.namespace"], ref.Namespace, "namespace from its label")
				assert.NotEmpty(t, ref.Namespace)
			}
		})
	}
}

// Fields this version of the API does not know, at any depth, are decoded as
// they came (kept as unknown fields), and a dropped field that repeats is
// dropped every time.
func TestTrimmedDecodeKeepsUnknownFields(t *testing.T) {
	attrs := protowire.AppendTag(nil, 1, protowire.BytesType)
	attrs = protowire.AppendString(attrs, "sb-1")
	for range 2 {
		attrs = protowire.AppendTag(attrs, 3, protowire.BytesType) // a labels entry
		attrs = protowire.AppendBytes(attrs, protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "k"))
	}
	attrs = protowire.AppendTag(attrs, 99, protowire.VarintType) // unknown
	attrs = protowire.AppendVarint(attrs, 7)
	stats := protowire.AppendTag(nil, 1, protowire.BytesType)
	stats = protowire.AppendBytes(stats, attrs)
	stats = protowire.AppendTag(stats, 77, protowire.BytesType) // unknown
	stats = protowire.AppendString(stats, "future")
	resp := protowire.AppendTag(nil, 1, protowire.BytesType)
	resp = protowire.AppendBytes(resp, stats)

	c := trimCases[0]
	checkTrimmed(t, c, resp)
	got, err := trimDecode(c, resp)
	require.NoError(t, err)
	s := got.(*runtimeapi.ListPodSandboxStatsResponse).Stats[0]
	assert.Equal(t, "sb-1", s.Attributes.Id)
	assert.Empty(t, s.Attributes.Labels)
	assert.NotEmpty(t, s.Attributes.ProtoReflect().GetUnknown(), "attributes' unknown field 99")
	assert.NotEmpty(t, s.ProtoReflect().GetUnknown(), "stats' unknown field 77")
}

func TestTrimmedDecodeRejectsMalformedAnswers(t *testing.T) {
	good := syntheticAnswers(t)["ListPodSandboxStats"]
	for name, b := range map[string][]byte{
		"truncated":           good[:len(good)-3],
		"bad tag":             {0x00},
		"length past the end": append(protowire.AppendTag(nil, 1, protowire.BytesType), 0x7f),
		"bad nested message":  protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte{0x0a, 0x05, 0x01}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := trimDecode(trimCases[0], b)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "cri: malformed answer") || strings.Contains(err.Error(), "proto"), err.Error())
		})
	}
}

func TestTrimCodecHasNoName(t *testing.T) {
	// grpc-go sends a forced codec's name as the content-subtype
	// ("application/grpc+<name>"), which CRI-O's socket refuses as the first
	// call of a connection: the name stays empty (and
	// TestEveryCallSendsPlainGRPCContentType checks the wire).
	assert.Empty(t, newTrimCodec(podSandboxStatsTrim).Name())
	_, err := trimDecode(trimCase{codec: newTrimCodec(podSandboxStatsTrim), empty: func() proto.Message { return nil }}, nil)
	assert.Error(t, err, "decoding into a non-message")
}

// FuzzTrimmedDecode: whatever the bytes, the trimmed decode of an answer the
// full decode accepts is the full decode with the dropped fields cleared.
func FuzzTrimmedDecode(f *testing.F) {
	for i, c := range trimCases {
		f.Add(uint8(i), syntheticAnswers(f)[c.name])
	}
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		checkTrimmed(t, trimCases[int(which)%len(trimCases)], b)
	})
}
