package bench

import (
	"bytes"
	"strings"
	"testing"
)

// --only picks experiments; process brings produce, whose data it reads.
func TestOnlyFlag(t *testing.T) {
	for _, tc := range []struct {
		only string
		want []string // experiments selected; nil: an error
	}{
		{"cli", []string{"cli"}},
		{"process", []string{"produce", "process"}},
		{"e2e,scale", []string{"e2e", "scale"}},
		{" parallel , cli", []string{"parallel", "cli"}},
		{"bogus", nil},
		{"", nil},
	} {
		t.Run(tc.only, func(t *testing.T) {
			o, err := parseFlags([]string{"--only", tc.only}, &bytes.Buffer{})
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), "unknown experiment") {
					t.Errorf("error %v, want unknown experiment", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(o.only) != len(tc.want) {
				t.Errorf("selected %v, want %v", o.only, tc.want)
			}
			for _, e := range tc.want {
				if !o.only[e] {
					t.Errorf("selected %v, want %v", o.only, tc.want)
				}
			}
		})
	}
}
