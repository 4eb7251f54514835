package scenario

import "testing"

func TestBuiltinParses(t *testing.T) {
	all, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no built-in scenarios")
	}
}
