package bench

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/report"
)

// outDir is where a run writes its report: with --out ROOT, a directory
// of its own, ROOT/YYYYMMDD-HHMMSS (UTC, the run's start), so that no file
// of an earlier run mixes in, and ROOT/latest, a symbolic link to the
// newest; with --out-exact DIR, DIR itself, whose earlier report files are
// removed just before the new ones are written (a run that fails leaves
// the old report alone). A nil *outDir writes nothing.
type outDir struct {
	root  string // --out, "" with --out-exact
	dir   string // where the files go
	exact bool
}

// latestName is the link in an --out root to its newest run.
const latestName = "latest"

// newOutDir makes the run's directory now, so that an unwritable one
// fails before the run rather than after.
func newOutDir(root, exact string, started time.Time) (*outDir, error) {
	if exact != "" {
		if err := probeDir(exact); err != nil {
			return nil, fmt.Errorf("--out-exact %s: %w", exact, err)
		}
		return &outDir{dir: exact, exact: true}, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("--out %s: %w", root, err)
	}
	if fi, err := os.Lstat(filepath.Join(root, latestName)); err == nil && fi.Mode()&fs.ModeSymlink == 0 {
		return nil, fmt.Errorf("--out %s: %s exists and is not a symbolic link; move it away", root, filepath.Join(root, latestName))
	}
	stamp := started.UTC().Format("20060102-150405")
	for n := 1; ; n++ {
		name := stamp
		if n > 1 {
			name = fmt.Sprintf("%s-%d", stamp, n)
		}
		dir := filepath.Join(root, name)
		err := os.Mkdir(dir, 0o755)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("--out %s: %w", root, err)
		}
		if err := probeDir(dir); err != nil {
			os.Remove(dir)
			return nil, fmt.Errorf("--out %s: %w", root, err)
		}
		return &outDir{root: root, dir: dir}, nil
	}
}

// probeDir creates dir and checks that a file can be written in it.
func probeDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".klbench-probe-*")
	if err != nil {
		return fmt.Errorf("not writable: %w", err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// write writes rep into the directory and, with --out, points latest at
// it.
func (d *outDir) write(rep *report.BenchReport) error {
	if d.exact {
		if err := report.CleanBenchReportDir(d.dir); err != nil {
			return fmt.Errorf("--out-exact %s: remove the earlier report: %w", d.dir, err)
		}
	}
	if err := report.WriteBenchReport(d.dir, rep); err != nil {
		return fmt.Errorf("write the report to %s: %w", d.dir, err)
	}
	if d.exact {
		return nil
	}
	// A new link renamed over the old one: latest is never missing.
	tmp := filepath.Join(d.root, ".latest.tmp")
	os.Remove(tmp)
	if err := os.Symlink(filepath.Base(d.dir), tmp); err != nil {
		return fmt.Errorf("--out %s: %w", d.root, err)
	}
	if err := os.Rename(tmp, filepath.Join(d.root, latestName)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("--out %s: point %s at %s: %w", d.root, latestName, filepath.Base(d.dir), err)
	}
	return nil
}

// abandon removes the run's directory if the run wrote nothing into it.
func (d *outDir) abandon() {
	if d != nil && !d.exact {
		os.Remove(d.dir) // only succeeds when empty
	}
}
