package bench

import (
	"strings"
	"testing"
)

// --only picks experiments; process brings produce, whose data it reads.
func TestOnlyOption(t *testing.T) {
	for _, tc := range []struct {
		name string
		only []string
		want []string // experiments selected; nil: an error
	}{
		{"cli", []string{"cli"}, []string{"cli"}},
		{"process brings produce", []string{"process"}, []string{"produce", "process"}},
		{"two", []string{"e2e", "scale"}, []string{"e2e", "scale"}},
		{"unknown", []string{"bogus"}, nil},
		{"none", []string{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Only: tc.only}
			err := o.normalize()
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), "--only") {
					t.Errorf("error %v, want one naming --only", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := o.only()
			if len(got) != len(tc.want) {
				t.Errorf("selected %v, want %v", got, tc.want)
			}
			for _, e := range tc.want {
				if !got[e] {
					t.Errorf("selected %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// The defaults of a zero Options, and --quick's.
func TestOptionDefaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		o     Options
		count int
		reps  int
		scale bool
	}{
		{"zero", Options{}, DefaultCount, DefaultReps, true},
		{"quick", Options{Quick: true}, QuickCount, DefaultReps, false},
		{"quick with scale", Options{Quick: true, Scale: ScaleOn}, QuickCount, DefaultReps, true},
		{"no scale", Options{Scale: ScaleOff}, DefaultCount, DefaultReps, false},
		{"only scale", Options{Only: []string{"scale"}}, DefaultCount, DefaultReps, true},
		{"only cli", Options{Only: []string{"cli"}, Scale: ScaleOn}, DefaultCount, DefaultReps, false},
		{"given", Options{Count: 500, Reps: 9}, 500, 9, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			if err := o.normalize(); err != nil {
				t.Fatal(err)
			}
			if o.Count != tc.count || o.params().Reps != tc.reps || o.runScale() != tc.scale {
				t.Errorf("count %d reps %d scale %v, want %d %d %v", o.Count, o.params().Reps, o.runScale(), tc.count, tc.reps, tc.scale)
			}
			if len(o.Impls) != 1 || o.Impls[0] != "ref" || o.Wait != "inotify" || o.Fsync != "never" || o.Batch != 1000 {
				t.Errorf("defaults: %+v", o)
			}
		})
	}
}
