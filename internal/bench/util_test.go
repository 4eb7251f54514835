package bench

import "testing"

func TestShellJoin(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"klbench", "--out", "reports/ref"}, "klbench --out reports/ref"},
		{[]string{"klbench", "--impl", "python3 examples/python/kl_adapter.py"}, "klbench --impl 'python3 examples/python/kl_adapter.py'"},
		{[]string{"--native", "py=python3 it's.py"}, `--native 'py=python3 it'\''s.py'`},
		{[]string{"--dir", ""}, "--dir ''"},
		{[]string{"a$b", "c;d"}, "'a$b' 'c;d'"},
	} {
		if got := shellJoin(tc.args); got != tc.want {
			t.Errorf("shellJoin(%q) = %s, want %s", tc.args, got, tc.want)
		}
	}
}
