package natsadapter

import "testing"

func TestServerAtLeast(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    bool
	}{
		{"2.9.10", false},
		{"v2.9.10", false},
		{"2.13.99", false},
		{"2.14.0", true},
		{"2.14.0-RC.1", true},
		{"2.15.2", true},
		{"3.0.0", true},
		{"1.99.0", false},
		{"", false},
		{"garbage", false},
	} {
		if got := serverAtLeast(tc.version, resetAPI); got != tc.want {
			t.Errorf("serverAtLeast(%q, %v) = %v, want %v", tc.version, resetAPI, got, tc.want)
		}
	}
}
