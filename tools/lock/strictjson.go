package lock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/rules-repro/rules_repro/tools/safejson"
)

// decodeStrict decodes JSON text into a tree of map[string]any, []any,
// string, json.Number, bool and nil, rejecting what encoding/json lets
// through silently: an object key given twice (encoding/json keeps the last,
// which for "images" would drop an entry) and data after the top-level value.
// Errors name the JSON path, e.g. `images.base.platforms`. A document nested
// deeper than safejson.MaxDepth is refused before it is decoded, and paths
// are spelled out only for the error reported, so the cost is linear in the
// size of the document.
func decodeStrict(data []byte) (any, error) {
	if err := safejson.CheckDepth(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, nil)
	if err != nil {
		return nil, err
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, fmt.Errorf("invalid JSON after the top-level object: %v", err)
		}
		return nil, fmt.Errorf("unexpected %v after the top-level object", tok)
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, path *safejson.Path) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, tokenError(path, err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := map[string]any{}
			// One node for every member: errors spell the path out at
			// once, so it can be reused.
			sub := &safejson.Path{Parent: path, Index: -1}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, tokenError(path, err)
				}
				key := kt.(string) // the decoder guarantees a string key here
				sub.Key = key
				if _, dup := obj[key]; dup {
					return nil, fmt.Errorf("%s: key given twice", sub)
				}
				v, err := decodeValue(dec, sub)
				if err != nil {
					return nil, err
				}
				obj[key] = v
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, tokenError(path, err)
			}
			return obj, nil
		case '[':
			arr := []any{}
			sub := &safejson.Path{Parent: path}
			for i := 0; dec.More(); i++ {
				sub.Index = i
				v, err := decodeValue(dec, sub)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, tokenError(path, err)
			}
			return arr, nil
		}
	}
	return tok, nil
}

func tokenError(path *safejson.Path, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%s: unexpected end of input", orTop(path.String()))
	}
	return fmt.Errorf("%s: invalid JSON: %v", orTop(path.String()), err)
}

func orTop(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describe names the JSON type of a decoded value for error messages.
func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return strconv.Quote(t)
	case json.Number:
		return "the number " + string(t)
	case bool:
		return fmt.Sprintf("%t", t)
	}
	return fmt.Sprintf("%T", v)
}

// object checks that v is an object (with any keys) and returns it.
func object(v any, path string) (map[string]any, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want an object, found %s", orTop(path), describe(v))
	}
	return obj, nil
}

// fields checks that v is an object whose keys are all known (exactly: JSON
// keys are case-sensitive here, unlike encoding/json) and returns it.
func fields(v any, path string, known ...string) (map[string]any, error) {
	obj, err := object(v, path)
	if err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(obj) {
		found := false
		for _, kk := range known {
			if k == kk {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("%s: unknown field %q (known: %s)", orTop(path), k, quoteAll(known))
		}
	}
	return obj, nil
}

// str returns the string at obj[key]; absent is "".
func str(obj map[string]any, key, path string) (string, error) {
	v, ok := obj[key]
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: want a string, found %s", join(path, key), describe(v))
	}
	return s, nil
}

func quoteAll(ss []string) string {
	var b bytes.Buffer
	for i, s := range ss {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(s))
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
