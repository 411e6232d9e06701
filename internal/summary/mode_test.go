package summary

import "testing"

func TestParseAndResolveMode(t *testing.T) {
	tests := []struct {
		in         string
		podCgroups bool
		want       Mode
		wantErr    bool
	}{
		{"", true, ModeCRIFill, false},
		{"auto", false, ModeCRI, false},
		{"cri", true, ModeCRI, false},
		{"cri+cadvisor", false, ModeCRIFill, false},
		{"cadvisor", true, ModeCAdvisor, false},
		{"CRI", true, "", true},
		{"kubelet", true, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := ParseMode(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseMode(%q) = %s, want an error", tt.in, m)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, why := ResolveMode(m, tt.podCgroups)
			if got != tt.want || why == "" {
				t.Errorf("ResolveMode(%s, %v) = %s, %q; want %s with a reason", m, tt.podCgroups, got, why, tt.want)
			}
		})
	}
}
