// Package canonjson encodes JSON in the canonical form pinned by
// compatibility version 1: object keys sorted by byte order, no
// insignificant whitespace, numbers kept exactly as written, strings escaped
// as Go's encoding/json escapes them.
//
// Because the form does not depend on the field order of Go structs, an
// upgrade of a library that defines OCI types cannot change our digests.
package canonjson

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Marshal returns the canonical encoding of v (any value encoding/json can
// marshal).
func Marshal(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return Canonicalize(raw)
}

// Canonicalize re-encodes JSON text canonically.
func Canonicalize(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("invalid JSON: data after the top-level value")
	}
	// encoding/json sorts map keys and writes json.Number verbatim.
	return json.Marshal(v)
}
