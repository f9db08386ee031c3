package publish

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strings"
)

// ReadStatus reads a Bazel workspace status file (stable-status.txt): one
// "KEY VALUE" per line, the value being the rest of the line.
func ReadStatus(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--stamp-file: %w", err)
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			continue
		}
		k, v, _ := strings.Cut(line, " ")
		vars[k] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading workspace status %s: %w", path, err)
	}
	return vars, nil
}

// Expand replaces each {KEY} in s with vars[KEY]. what names s in errors
// ("tag", "repository"). A key that is not in vars is an error naming it
// and the keys there are; vars == nil means no stamp file was given, so any
// {KEY} is an error that says to build with --stamp.
func Expand(s, what string, vars map[string]string) (string, error) {
	var b strings.Builder
	rest := s
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				return "", fmt.Errorf("%s %q: unmatched '}'", what, s)
			}
			b.WriteString(rest)
			return b.String(), nil
		}
		if strings.IndexByte(rest[:i], '}') >= 0 {
			return "", fmt.Errorf("%s %q: unmatched '}'", what, s)
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("%s %q: '{' without a closing '}'", what, s)
		}
		key := rest[i+1 : i+j]
		if key == "" || strings.ContainsAny(key, "{ ") {
			return "", fmt.Errorf("%s %q: %q is not a stamp variable; write {KEY} with a key of the workspace status", what, s, rest[i:i+j+1])
		}
		if vars == nil {
			return "", fmt.Errorf("%s %q uses the stamp variable {%s}, but no workspace status was given: build with --stamp (bazel run --stamp ...), or pass --stamp-file bazel-out/stable-status.txt", what, s, key)
		}
		v, ok := vars[key]
		if !ok {
			return "", fmt.Errorf("%s %q: the workspace status has no key %s (it has: %s); print it from your --workspace_status_command, and remember that only STABLE_ keys and the BUILD_ keys Bazel adds are in stable-status.txt", what, s, key, keyList(vars))
		}
		if v == "" {
			return "", fmt.Errorf("%s %q: the workspace status key %s is empty", what, s, key)
		}
		b.WriteString(rest[:i])
		b.WriteString(v)
		rest = rest[i+j+1:]
	}
}

func keyList(vars map[string]string) string {
	if len(vars) == 0 {
		return "no keys"
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// FilterStatus returns the lines of a workspace status holding the given
// keys, sorted by key, in the status file format. Keys that the status
// does not hold are left out: the command that needs one reports it.
//
// Stamped actions take this instead of stable-status.txt, which also holds
// BUILD_HOST and BUILD_USER: two machines building the same commit then
// give those actions equal inputs, and share them through a remote cache.
func FilterStatus(vars map[string]string, keys []string) []byte {
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	sorted := make([]string, 0, len(want))
	for k := range want {
		if _, ok := vars[k]; ok {
			sorted = append(sorted, k)
		}
	}
	sort.Strings(sorted)
	var b strings.Builder
	for _, k := range sorted {
		b.WriteString(k + " " + vars[k] + "\n")
	}
	return []byte(b.String())
}
