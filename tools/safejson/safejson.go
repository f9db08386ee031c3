// Package safejson bounds what a JSON document may cost to parse. Every
// JSON input of rules_repro (lockfile, source policy, layer and image specs,
// descriptor files, OCI index, manifest and config) passes through
// CheckDepth before it is decoded, so that a small hostile document cannot
// make a decoder recurse deeply or build large error paths.
//
// The check is one linear pass over the bytes without allocation; it does
// not validate the JSON otherwise (the decoder that follows does).
package safejson

import (
	"encoding/json"
	"fmt"
)

// MaxDepth is the deepest nesting of arrays and objects accepted. The
// deepest document we read legitimately is an OCI image config (about 5
// levels); 64 leaves room for any hand-written spec.
const MaxDepth = 64

// DepthError reports a document nested deeper than MaxDepth.
type DepthError struct {
	Offset int // byte offset of the bracket that went too deep
	Max    int
}

func (e *DepthError) Error() string {
	return fmt.Sprintf("JSON nested deeper than %d levels (at byte %d)", e.Max, e.Offset)
}

// CheckDepth returns a *DepthError when data nests arrays or objects deeper
// than MaxDepth. Brackets inside strings are not counted.
func CheckDepth(data []byte) error {
	return checkDepth(data, MaxDepth)
}

func checkDepth(data []byte, max int) error {
	depth := 0
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch c {
			case '\\':
				i++ // skip the escaped byte
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > max {
				return &DepthError{Offset: i, Max: max}
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return nil
}

// Unmarshal is json.Unmarshal after CheckDepth.
func Unmarshal(data []byte, v any) error {
	if err := CheckDepth(data); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}
