package diff

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

func shortType(mt string) string {
	switch {
	case strings.Contains(mt, "index") || strings.Contains(mt, "manifest.list"):
		return "index"
	case strings.Contains(mt, "manifest"):
		return "image"
	}
	return "layer"
}

// WriteText writes the report for people: what was compared, then the
// differences grouped by image and layer, one line each.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "A: %s (%s, %s %s)\n", r.A.Name, r.A.Kind, shortType(r.A.MediaType), r.A.Digest)
	fmt.Fprintf(&b, "B: %s (%s, %s %s)\n", r.B.Name, r.B.Kind, shortType(r.B.MediaType), r.B.Digest)
	mode := ""
	if r.Semantic {
		mode = " (semantic: timestamps, history, entry order, tar format and compression ignored)"
	}
	switch {
	case r.Equal && r.A.Digest == r.B.Digest:
		fmt.Fprintf(&b, "equal: the same digest\n")
	case r.Equal && r.Semantic:
		fmt.Fprintf(&b, "equal%s: the digests differ only in what is ignored\n", mode)
	case r.Equal:
		fmt.Fprintf(&b, "equal: no difference in what could be compared (see the notes)\n")
	default:
		n := len(r.Differences)
		s := "s"
		if n == 1 {
			s = ""
		}
		fmt.Fprintf(&b, "different%s: %d difference%s\n", mode, n, s)
	}
	header := ""
	for _, d := range r.Differences {
		if h := sectionOf(d); h != header {
			header = h
			fmt.Fprintf(&b, "%s:\n", h)
		}
		fmt.Fprintf(&b, "  %s\n", line(d))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sectionOf(d Difference) string {
	var parts []string
	if d.Platform != "" {
		parts = append(parts, d.Platform)
	}
	switch d.Level {
	case LevelLayer, LevelEntry, LevelCompression:
		if d.Layer != nil {
			parts = append(parts, fmt.Sprintf("layer %d", *d.Layer))
		} else {
			parts = append(parts, "layer")
		}
	case LevelHistory:
		parts = append(parts, LevelConfig)
	default:
		parts = append(parts, d.Level)
	}
	return strings.Join(parts, " ")
}

func show(v *string) string {
	switch {
	case v == nil:
		return "(absent)"
	case *v == "":
		return `""`
	}
	return *v
}

// line renders one difference.
func line(d Difference) string {
	var s string
	switch d.Kind {
	case Added:
		if d.Entry != "" {
			s = fmt.Sprintf("+ %s: %s", d.Entry, show(d.B))
		} else {
			s = fmt.Sprintf("%s: only in B: %s", d.Field, show(d.B))
		}
	case Removed:
		if d.Entry != "" {
			s = fmt.Sprintf("- %s: %s", d.Entry, show(d.A))
		} else {
			s = fmt.Sprintf("%s: only in A: %s", d.Field, show(d.A))
		}
	case Truncated:
		return "… " + d.Note
	case Unavailable:
		if d.A != nil || d.B != nil {
			return fmt.Sprintf("%s: %s → %s (cannot look closer: %s)", d.Field, show(d.A), show(d.B), d.Note)
		}
		return "cannot look closer: " + d.Note
	default:
		s = fmt.Sprintf("%s: %s → %s", d.Field, show(d.A), show(d.B))
		if d.Entry != "" {
			s = d.Entry + ": " + s
		}
	}
	if d.Entries > 0 {
		ex := strings.Join(d.Examples, ", ")
		if d.Entries > len(d.Examples) {
			ex += ", …"
		}
		s += fmt.Sprintf(", in %d entries (%s)", d.Entries, ex)
	}
	if d.Note != "" {
		s += " (" + d.Note + ")"
	}
	return s
}
