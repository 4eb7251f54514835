package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/kafka-lite/kafka-lite/internal/run"
)

// CheckMeta is the run metadata at the top of results.json.
type CheckMeta struct {
	Tool      string    `json:"tool"` // "klcheck"
	Args      []string  `json:"args"`
	Impl      run.Impl  `json:"impl"`
	Quick     bool      `json:"quick"`
	Seed      *int64    `json:"seed_override,omitempty"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	GoVersion string    `json:"go_version"`
	Host      string    `json:"host,omitempty"`
	CPUs      int       `json:"cpus"`
}

// CheckSummary counts the scenarios by status.
type CheckSummary struct {
	Scenarios int    `json:"scenarios"`
	Passed    int    `json:"passed"`
	Failed    int    `json:"failed"`
	Skipped   int    `json:"skipped"`
	Errors    int    `json:"errors"`
	Line      string `json:"line"`
}

// checkFile is the layout of results.json.
type checkFile struct {
	Run        CheckMeta           `json:"run"`
	Summary    CheckSummary        `json:"summary"`
	ErrorTypes []scenarioErrorType `json:"error_types"`
	Scenarios  []*run.Result       `json:"scenarios"`
}

// scenarioErrorType is an error type summed over the scenarios.
type scenarioErrorType struct {
	run.ErrorType
	Scenarios []string `json:"scenarios"`
}

// Summarize counts results by status.
func Summarize(results []*run.Result) CheckSummary {
	s := CheckSummary{Scenarios: len(results), Line: CheckSummaryLine(results)}
	for _, r := range results {
		switch r.Status {
		case run.StatusPass:
			s.Passed++
		case run.StatusFail:
			s.Failed++
		case run.StatusSkip:
			s.Skipped++
		default:
			s.Errors++
		}
	}
	return s
}

// WriteCheckResults writes results.json to path (through a temporary file
// renamed into place): see EncodeCheckResults. It reports every write
// error, a full disk included.
func WriteCheckResults(path string, meta CheckMeta, results []*run.Result) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".results-*.json")
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	werr := EncodeCheckResults(tmp, meta, results)
	if werr == nil {
		werr = tmp.Sync()
	}
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write results %s: %w", path, werr)
	}
	return nil
}

// EncodeCheckResults writes the results document to w: the run metadata,
// the summary, the error types over all scenarios with counts and
// examples, and each scenario's result (checks, counts, latency
// percentiles).
func EncodeCheckResults(w io.Writer, meta CheckMeta, results []*run.Result) error {
	byType := map[string]*scenarioErrorType{}
	for _, r := range results {
		for _, et := range r.ErrorTypes {
			agg := byType[et.Type]
			if agg == nil {
				agg = &scenarioErrorType{ErrorType: run.ErrorType{Type: et.Type}}
				byType[et.Type] = agg
			}
			agg.Count += et.Count
			agg.Scenarios = append(agg.Scenarios, r.Scenario)
			for _, ex := range et.Examples {
				if len(agg.Examples) < 5 {
					agg.Examples = append(agg.Examples, r.Scenario+": "+ex)
				}
			}
		}
	}
	types := make([]scenarioErrorType, 0, len(byType))
	for _, t := range byType {
		types = append(types, *t)
	}
	sort.Slice(types, func(i, j int) bool {
		if types[i].Count != types[j].Count {
			return types[i].Count > types[j].Count
		}
		return types[i].Type < types[j].Type
	})
	data, err := json.MarshalIndent(checkFile{Run: meta, Summary: Summarize(results), ErrorTypes: types, Scenarios: results}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	data = append(data, '\n')
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}
