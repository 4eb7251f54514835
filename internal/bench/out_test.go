package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --out gives each run a directory of its own and points latest at the
// newest; --out-exact writes into the directory, removing the report
// files of an earlier run and nothing else.
func TestOutDirectories(t *testing.T) {
	small := Options{Only: []string{"produce"}, Count: 100, Reps: 1}
	root := t.TempDir()
	var dirs []string
	for range 2 {
		o := small
		o.Out = root
		code, out, errs := runBench(t, o)
		require.Equal(t, 0, code, "%s%s", out, errs)
		i := strings.Index(out, "report written to ")
		require.GreaterOrEqual(t, i, 0, out)
		dirs = append(dirs, strings.TrimSpace(out[i+len("report written to "):]))
	}
	require.NotEqual(t, dirs[0], dirs[1])
	for _, d := range dirs {
		assert.Equal(t, root, filepath.Dir(d))
		assert.Regexp(t, `^\d{8}-\d{6}(-\d+)?$`, filepath.Base(d))
		assert.FileExists(t, filepath.Join(d, "report.md"))
	}
	link, err := os.Readlink(filepath.Join(root, "latest"))
	require.NoError(t, err)
	assert.Equal(t, filepath.Base(dirs[1]), link)

	exact := t.TempDir()
	for _, f := range []string{"plot-stale.svg", "stale.hgrm", "README.md"} {
		require.NoError(t, os.WriteFile(filepath.Join(exact, f), nil, 0o644))
	}
	o := small
	o.OutExact = exact
	code, out, errs := runBench(t, o)
	require.Equal(t, 0, code, "%s%s", out, errs)
	assert.FileExists(t, filepath.Join(exact, "report.md"))
	assert.FileExists(t, filepath.Join(exact, "plot-produce-publish.png"))
	assert.FileExists(t, filepath.Join(exact, "README.md"))
	assert.NoFileExists(t, filepath.Join(exact, "plot-stale.svg"))
	assert.NoFileExists(t, filepath.Join(exact, "stale.hgrm"))
	assert.NoDirExists(t, filepath.Join(exact, "latest"))
}

// A latest that is not a link is not overwritten.
func TestOutLatestNotALink(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(root, "latest"), 0o755))
	code, _, errs := runBench(t, Options{Only: []string{"produce"}, Count: 100, Reps: 1, Out: root})
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "not a symbolic link")
}
