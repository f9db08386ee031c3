package safejson

import (
	"fmt"
	"strconv"
	"strings"
)

// Path is where a value is in a JSON document: a chain of object keys and
// array indexes from the top. Decoders build one node per level and spell
// the path out (String) only for an error, so that decoding costs no more
// than the document's size. A node with Index < 0 is an object member named
// Key; otherwise it is element Index of an array.
type Path struct {
	Parent *Path
	Key    string
	Index  int
}

// String returns the path as errors name it, for example
// `images.base.platforms`, `rules[2].selector` or `files["a\nb"]`; the top
// level is "".
func (p *Path) String() string {
	if p == nil {
		return ""
	}
	var parts []*Path
	for q := p; q != nil; q = q.Parent {
		parts = append(parts, q)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		q := parts[i]
		if q.Index >= 0 {
			fmt.Fprintf(&b, "[%d]", q.Index)
			continue
		}
		k := PathKey(q.Key)
		if b.Len() == 0 && k[0] == '.' {
			k = k[1:]
		}
		b.WriteString(k)
	}
	return b.String()
}

// PathKey is how an object key is written in a path: ".key" when it is
// plain (letters, digits, '_', '.', '-', '/'), else `["quoted"]`, so that a
// key from the document never puts a raw newline or quote into a message.
func PathKey(key string) string {
	if plainKey(key) {
		return "." + key
	}
	return "[" + strconv.Quote(key) + "]"
}

func plainKey(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' || c == '/') {
			return false
		}
	}
	return key != ""
}
