package diff

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	digest "github.com/opencontainers/go-digest"
	"github.com/rules-repro/rules_repro/tools/atomicfile"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/safejson"
)

// Golden is a committed golden digest: a file holding one digest, a row of
// a table of digests, or a descriptor written by `repro image` or
// `repro index`.
//
// A table has one row per line, fields separated by blanks, the digest
// last; the other fields are the row's key ("//app:image unstamped").
// Lines starting with # and blank lines are ignored.
type Golden struct {
	Path   string
	Key    string
	Digest digest.Digest
	// Descriptor is set when the golden file is a descriptor; it says
	// which config and layers the golden image has.
	Descriptor *oci.ImageDescriptor
	// Line is the line number of the row (1-based; 0 for a descriptor).
	Line int
}

// Where says which golden digest this is, for messages.
func (g *Golden) Where() string {
	if g.Key != "" {
		return fmt.Sprintf("%s, row %q", g.Path, g.Key)
	}
	return g.Path
}

func isJSON(data []byte) bool { return bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) }

// ReadGolden reads the golden digest of path. key selects a row of a
// table; empty, the file must hold a single row.
func ReadGolden(path, key string) (*Golden, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("golden file: %w", err)
	}
	return parseGolden(path, key, data)
}

func parseGolden(path, key string, data []byte) (*Golden, error) {
	key = strings.Join(strings.Fields(key), " ")
	g := &Golden{Path: path, Key: key}
	if isJSON(data) {
		if key != "" {
			return nil, fmt.Errorf("golden file %s is a descriptor; it has no rows to select with a key (%q)", path, key)
		}
		var d oci.ImageDescriptor
		if err := safejson.Unmarshal(data, &d); err != nil {
			return nil, fmt.Errorf("golden file %s: invalid JSON: %w", path, err)
		}
		if err := d.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("golden file %s: digest: %v", path, err)
		}
		g.Digest, g.Descriptor = d.Digest, &d
		return g, nil
	}
	var rows []int
	for i, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		rowKey := strings.Join(fields[:len(fields)-1], " ")
		if key != "" && rowKey != key {
			continue
		}
		rows = append(rows, i+1)
		d, err := digest.Parse(fields[len(fields)-1])
		if err != nil {
			return nil, fmt.Errorf("golden file %s:%d: the last field %q is not a digest: %v", path, i+1, fields[len(fields)-1], err)
		}
		g.Digest, g.Line = d, i+1
	}
	switch {
	case len(rows) == 0 && key != "":
		return nil, fmt.Errorf("golden file %s has no row %q", path, key)
	case len(rows) == 0:
		return nil, fmt.Errorf("golden file %s holds no digest", path)
	case len(rows) > 1 && key != "":
		return nil, fmt.Errorf("golden file %s has row %q more than once (lines %d and %d)", path, key, rows[0], rows[1])
	case len(rows) > 1:
		return nil, fmt.Errorf("golden file %s has %d rows; say which with a key", path, len(rows))
	}
	return g, nil
}

// UpdateGolden writes digest d (or, for a descriptor golden file, the
// descriptor file descPath) into the golden file at path: the digest field
// of the row is replaced in place and the rest of the file is kept. A
// missing file or row is created. Symbolic links are followed, so a golden
// file linked from elsewhere is updated where it lives; written is that
// path.
func UpdateGolden(path, key string, d digest.Digest, descPath string) (old digest.Digest, written string, err error) {
	written, err = updateGolden(path, key, d, descPath, &old)
	return old, written, err
}

func updateGolden(path, key string, d digest.Digest, descPath string, old *digest.Digest) (string, error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return path, err
	}
	key = strings.Join(strings.Fields(key), " ")
	var out []byte
	switch {
	case isJSON(data) || (len(data) == 0 && descPath != "" && strings.HasSuffix(path, ".json")):
		if g, err := parseGolden(path, "", data); err == nil {
			*old = g.Digest
		}
		if out, err = os.ReadFile(descPath); err != nil {
			return path, err
		}
	default:
		g, perr := parseGolden(path, key, data)
		switch {
		case perr == nil:
			*old = g.Digest
			lines := strings.Split(string(data), "\n")
			line := lines[g.Line-1]
			i := strings.LastIndex(line, g.Digest.String())
			lines[g.Line-1] = line[:i] + d.String() + line[i+len(g.Digest.String()):]
			out = []byte(strings.Join(lines, "\n"))
		case len(data) == 0 || (key != "" && strings.Contains(perr.Error(), "has no row")):
			row := d.String()
			if key != "" {
				row = key + " " + row
			}
			if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
				data = append(data, '\n')
			}
			out = append(data, []byte(row+"\n")...)
		default:
			return path, perr
		}
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return path, err
	}
	defer f.Abort()
	if _, err := f.Write(out); err != nil {
		return path, err
	}
	return path, f.Commit()
}
