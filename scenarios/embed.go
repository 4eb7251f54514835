// Package scenarios embeds klcheck's built-in scenario files. The
// internal/scenario package decodes them; docs/SCENARIOS.md describes them.
package scenarios

import "embed"

// FS holds every built-in scenario, one NAME.yaml file per scenario at its
// root.
//
//go:embed *.yaml
var FS embed.FS
