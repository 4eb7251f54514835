package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem with a scenario: a YAML syntax or type error, an
// unknown field, or a value that fails validation. Parse, LoadFile, Builtin
// and Lookup return either one *Error or several joined with errors.Join;
// use errors.As to reach them.
type Error struct {
	// File is the name the scenario was parsed under ("" when unknown).
	File string
	// Line is the 1-based line of the problem in File (0 when unknown).
	Line int
	// Field is the path of the offending field, like "producers[1].batch"
	// ("" for syntax errors).
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error formats the problem as "file:line: field: msg", leaving out the
// parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// MaxFileBytes bounds the size of a scenario file.
const MaxFileBytes = 1 << 20

// Parse decodes one scenario from data, strictly: an unknown field, a value
// of the wrong type, a YAML syntax error or a second document is an error
// naming name and the line. It then applies the defaults (ApplyDefaults),
// validates the result (Validate) and sets File to name. When the file has
// no name field, the scenario is named after the file, without its
// extension.
func Parse(name string, data []byte) (s *Scenario, err error) {
	// yaml.v3 is not supposed to panic on any input, but a scenario file is
	// user input: turn a decoder panic into an error rather than crash.
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, &Error{File: name, Msg: fmt.Sprintf("cannot decode YAML: %v", r)}
		}
	}()
	if len(data) > MaxFileBytes {
		return nil, &Error{File: name, Msg: fmt.Sprintf("file is %d bytes, more than the limit of %d", len(data), MaxFileBytes)}
	}

	// First pass: the node tree, for syntax errors, the document count and
	// the lines of fields that fail validation.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: name, Msg: "empty file: no scenario"}
		}
		return nil, yamlError(name, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlError(name, err)
	default:
		return nil, &Error{File: name, Line: docLine(&next), Msg: "a second YAML document: a scenario file holds exactly one"}
	}
	if err := checkArrays(name, &root); err != nil {
		return nil, err
	}
	if err := checkInts(name, &root, reflect.TypeFor[Scenario]()); err != nil {
		return nil, err
	}

	// Second pass: strict decoding into the types.
	s = new(Scenario)
	dec = yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil {
		return nil, yamlError(name, err)
	}

	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	}
	s.File = name
	s.ApplyDefaults()
	if err := s.Validate(); err != nil {
		return nil, locate(name, &root, err)
	}
	return s, nil
}

// LoadFile reads and parses the scenario file at path.
func LoadFile(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("scenario: read %s: %w", path, err)
	}
	return Parse(path, data)
}

var (
	// "line 12: field chunk_recrds not found in type scenario.Topic"
	lineRE = regexp.MustCompile(`^line (\d+): (.*)$`)
	// the field name in yaml.v3's unknown-field message, to quote it
	fieldRE = regexp.MustCompile(`^field (\S+) (not found|already set) in type (.*)$`)
)

// yamlError converts an error of yaml.v3 into *Error values naming the file
// and line ("scenarios/foo.yaml:12: ...").
func yamlError(name string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		errs := make([]error, 0, len(te.Errors))
		for _, msg := range te.Errors {
			errs = append(errs, lineError(name, msg))
		}
		return errors.Join(errs...)
	}
	return lineError(name, strings.TrimPrefix(err.Error(), "yaml: "))
}

// lineError turns one "line N: msg" message into an *Error.
func lineError(name, msg string) *Error {
	e := &Error{File: name, Msg: msg}
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			e.Line, e.Msg = n, m[2]
		}
	}
	if m := fieldRE.FindStringSubmatch(e.Msg); m != nil {
		e.Msg = fmt.Sprintf("field %q %s in type %s", m[1], m[2], m[3])
	}
	return e
}

// docLine is the line where document n starts.
func docLine(n *yaml.Node) int {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 && n.Content[0].Line > 0 {
		return n.Content[0].Line
	}
	return n.Line
}

// checkArrays reports a "range" that is not a pair with its line: yaml.v3
// reports a wrong array length into [2]int without one.
func checkArrays(name string, n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "range" && v.Kind == yaml.SequenceNode && len(v.Content) != 2 {
				return &Error{File: name, Line: v.Line, Field: "range",
					Msg: fmt.Sprintf("want [min, max], got %d elements", len(v.Content))}
			}
		}
	}
	for _, c := range n.Content {
		if err := checkArrays(name, c); err != nil {
			return err
		}
	}
	return nil
}

// locate fills in File, and Line from the node tree, in every *Error of err
// (validation errors carry only their field path).
func locate(name string, root *yaml.Node, err error) error {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		var se *Error
		if errors.As(e, &se) {
			c := *se
			c.File = name
			if c.Line == 0 {
				c.Line = lineOf(root, c.Field)
			}
			out = append(out, &c)
			continue
		}
		out = append(out, fmt.Errorf("%s: %w", name, e))
	}
	return errors.Join(out...)
}

// pathRE splits a field path like "producers[1].size.range" into steps.
var pathRE = regexp.MustCompile(`[^.\[\]]+|\[\d+\]`)

// lineOf returns the line of the deepest node on path that exists in the
// tree: the field itself, or the nearest enclosing one when the field was
// left out (and set by a default).
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return 0
		}
		n = n.Content[0]
	}
	line := 0
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		line = n.Line
	}
	for _, step := range pathRE.FindAllString(path, -1) {
		var child *yaml.Node
		if strings.HasPrefix(step, "[") {
			i, err := strconv.Atoi(strings.Trim(step, "[]"))
			if err == nil && n.Kind == yaml.SequenceNode && i < len(n.Content) {
				child = n.Content[i]
			}
		} else if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == step {
					child = n.Content[i+1]
					break
				}
			}
		}
		if child == nil {
			break
		}
		n, line = child, child.Line
	}
	return line
}

// checkInts reports a float where the schema wants an integer, with its
// line: yaml.v3 silently truncates 1.5 into an int field.
func checkInts(name string, n *yaml.Node, t reflect.Type) error {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.ScalarNode:
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if n.ShortTag() == "!!float" {
				return &Error{File: name, Line: n.Line, Msg: fmt.Sprintf("cannot unmarshal !!float `%s` into %s: want a whole number", n.Value, t)}
			}
		}
	case yaml.SequenceNode:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for _, c := range n.Content {
				if err := checkInts(name, c, t.Elem()); err != nil {
					return err
				}
			}
		}
	case yaml.MappingNode:
		if t.Kind() != reflect.Struct {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			for j := range t.NumField() {
				f := t.Field(j)
				if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag == key && f.IsExported() {
					if err := checkInts(name, n.Content[i+1], f.Type); err != nil {
						return err
					}
					break
				}
			}
		}
	}
	return nil
}
