package bzldoc

import (
	"fmt"
	"regexp"
	"strings"
)

// cleandoc normalizes a docstring as Python's inspect.cleandoc does: tabs
// expanded, the first line's leading space and the other lines' common
// indentation removed, leading and trailing blank lines dropped. Trailing
// spaces are removed too (in Markdown they would be line breaks).
func cleandoc(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\t", "        "), "\n")
	indent := -1
	for _, l := range lines[1:] {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " "))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	lines[0] = strings.TrimLeft(lines[0], " ")
	for i := range lines {
		if i > 0 && indent > 0 && len(lines[i]) >= indent {
			lines[i] = lines[i][indent:]
		}
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}

// Docstring is a function's docstring in the Google style that Stardoc and
// buildifier read: a description, then sections such as Args: and Returns:.
type Docstring struct {
	// Description is the text before the first section, verbatim.
	Description string
	// Args are the entries of the Args: section, in order.
	Args []DocArg
	// Sections are the other sections (Returns, Raises, Deprecated...), in
	// order.
	Sections []DocSection
}

// DocArg is one entry of an Args: section.
type DocArg struct {
	Name string
	Doc  string
}

// DocSection is a docstring section other than Args:.
type DocSection struct {
	Title string
	Text  string
}

var (
	sectionRE = regexp.MustCompile(`^(Args|Arguments|Keyword Args|Keyword Arguments|Returns|Yields|Raises|Deprecated|Example|Examples|Note|Notes):\s*$`)
	argRE     = regexp.MustCompile(`^(\*{0,2}[A-Za-z_][A-Za-z0-9_]*)(?:\s*\([^)]*\))?:(?:\s+(.*))?$`)
)

// parseDocstring splits a cleaned docstring into description and sections.
// A malformed Args: section is an error: silently dropping an argument's
// doc would be worse.
func parseDocstring(doc string) (*Docstring, error) {
	d := &Docstring{}
	lines := strings.Split(doc, "\n")
	i := 0
	var desc []string
	for ; i < len(lines) && !sectionRE.MatchString(lines[i]); i++ {
		desc = append(desc, lines[i])
	}
	d.Description = strings.TrimSpace(strings.Join(desc, "\n"))
	for i < len(lines) {
		title := strings.TrimSuffix(strings.TrimSpace(lines[i]), ":")
		i++
		var body []string
		for ; i < len(lines) && !sectionRE.MatchString(lines[i]); i++ {
			body = append(body, lines[i])
		}
		text := cleandoc("\n" + strings.Join(body, "\n"))
		switch title {
		case "Args", "Arguments", "Keyword Args", "Keyword Arguments":
			args, err := parseArgs(text)
			if err != nil {
				return nil, fmt.Errorf("%s section: %w", title, err)
			}
			d.Args = append(d.Args, args...)
		default:
			d.Sections = append(d.Sections, DocSection{Title: title, Text: text})
		}
	}
	return d, nil
}

// parseArgs parses the dedented body of an Args: section: "name: doc"
// lines, continued by more indented lines.
func parseArgs(text string) ([]DocArg, error) {
	var args []DocArg
	for _, l := range strings.Split(text, "\n") {
		if l == "" {
			if len(args) > 0 {
				args[len(args)-1].Doc += "\n"
			}
			continue
		}
		if strings.HasPrefix(l, " ") {
			if len(args) == 0 {
				return nil, fmt.Errorf("indented line %q before the first argument", l)
			}
			a := &args[len(args)-1]
			a.Doc = strings.TrimRight(a.Doc, "\n") + sep(a.Doc) + strings.TrimSpace(l)
			continue
		}
		m := argRE.FindStringSubmatch(l)
		if m == nil {
			return nil, fmt.Errorf("line %q is not of the form \"name: description\"", l)
		}
		args = append(args, DocArg{Name: m[1], Doc: m[2]})
	}
	for i := range args {
		args[i].Doc = strings.TrimSpace(args[i].Doc)
	}
	return args, nil
}

// sep joins continuation lines: a space, or a paragraph break where the
// doc had a blank line.
func sep(doc string) string {
	switch {
	case doc == "":
		return ""
	case strings.HasSuffix(doc, "\n"):
		return "\n\n"
	}
	return " "
}
