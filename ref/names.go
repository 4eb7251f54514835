package ref

import (
	"errors"
	"fmt"
)

// ErrBadName is returned for a topic or group name that is not allowed.
var ErrBadName = errors.New("bad name")

// maxNameLen keeps names well inside NAME_MAX with room for suffixes.
const maxNameLen = 200

// ValidateName checks a topic or group name: 1 to 200 letters, digits, '.',
// '_' and '-', and never "." or "..". kind ("topic", "group") goes into the
// error. A valid name can never reach outside the directory it is used in.
func ValidateName(kind, name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty %s name", ErrBadName, kind)
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("%w: %s name is %d bytes, the limit is %d", ErrBadName, kind, len(name), maxNameLen)
	}
	if name == "." || name == ".." {
		return fmt.Errorf("%w: %s name %q", ErrBadName, kind, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("%w: %s name %q has %q at byte %d; use letters, digits, '.', '_' and '-'", ErrBadName, kind, name, c, i)
		}
	}
	return nil
}
