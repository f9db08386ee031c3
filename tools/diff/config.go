package diff

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// config is an image config: its bytes and its fields as generic JSON
// (numbers kept as written).
type config struct {
	raw    []byte
	fields map[string]any
}

// Config fields in the order they are reported; others follow, sorted.
var (
	configOrder  = []string{"architecture", "os", "variant", "os.version", "os.features", "created", "author", "config", "rootfs", "history"}
	runtimeOrder = []string{"Entrypoint", "Cmd", "Env", "WorkingDir", "User", "Labels", "ExposedPorts", "Volumes", "StopSignal", "Healthcheck", "Shell", "OnBuild", "ArgsEscaped"}
)

// ordered lists the keys of a and b: first those of order that occur,
// then the rest sorted.
func ordered(a, b map[string]any, order []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range order {
		_, oka := a[k]
		_, okb := b[k]
		if oka || okb {
			out = append(out, k)
		}
		seen[k] = true
	}
	for _, k := range unionKeys(a, b) {
		if !seen[k] {
			out = append(out, k)
		}
	}
	return out
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// render shows a JSON value: strings as they are, anything else as
// compact JSON.
func render(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// epochNote names the SOURCE_DATE_EPOCH behind two RFC 3339 timestamps.
func epochNote(a, b string) string {
	ta, erra := time.Parse(time.RFC3339Nano, a)
	tb, errb := time.Parse(time.RFC3339Nano, b)
	switch {
	case erra == nil && errb == nil:
		return fmt.Sprintf("SOURCE_DATE_EPOCH %d → %d", ta.Unix(), tb.Unix())
	case erra == nil:
		return fmt.Sprintf("SOURCE_DATE_EPOCH %d in A", ta.Unix())
	case errb == nil:
		return fmt.Sprintf("SOURCE_DATE_EPOCH %d in B", tb.Unix())
	}
	return ""
}

// value reports a field present on either side with different values.
func (w *walker) value(sc scope, level, field string, va any, oka bool, vb any, okb bool, note string) {
	var pa, pb *string
	kind := Changed
	if oka {
		pa = str(render(va))
	} else {
		kind = Added
	}
	if okb {
		pb = str(render(vb))
	} else {
		kind = Removed
	}
	w.at(sc, level, kind, field, pa, pb, note)
}

func (w *walker) config(sc scope, ca, cb *config) {
	a, b := ca.fields, cb.fields
	before := len(w.diffs)
	for _, k := range ordered(a, b, configOrder) {
		va, oka := a[k]
		vb, okb := b[k]
		if oka == okb && jsonEqual(va, vb) {
			continue
		}
		switch k {
		case "created":
			if w.o.Semantic {
				continue
			}
			w.value(sc, LevelConfig, k, va, oka, vb, okb, epochNote(render(va), render(vb)))
		case "config", "container_config":
			w.runtime(sc, k, asMap(va), asMap(vb))
		case "rootfs":
			// Changed diff_ids are explained layer by layer, and a
			// different count by the manifest.
			ra, rb := asMap(va), asMap(vb)
			if !jsonEqual(ra["type"], rb["type"]) {
				_, ta := ra["type"]
				_, tb := rb["type"]
				w.value(sc, LevelConfig, "rootfs.type", ra["type"], ta, rb["type"], tb, "")
			}
		case "history":
			if w.o.Semantic {
				continue
			}
			w.history(sc, asList(va), asList(vb))
		default:
			w.value(sc, LevelConfig, k, va, oka, vb, okb, "")
		}
	}
	if len(w.diffs) == before && !w.o.Semantic && string(ca.raw) != string(cb.raw) && jsonEqual(a, b) {
		// Otherwise only diff_ids differ: a consequence of the layers.
		w.encoding(sc, LevelConfig, ca.raw, cb.raw)
	}
}

// runtime compares the "config" object (Entrypoint, Env, Labels, ...).
func (w *walker) runtime(sc scope, name string, a, b map[string]any) {
	for _, k := range ordered(a, b, runtimeOrder) {
		va, oka := a[k]
		vb, okb := b[k]
		if oka == okb && jsonEqual(va, vb) {
			continue
		}
		field := name + "." + k
		switch k {
		case "Env":
			w.env(sc, field, asList(va), asList(vb))
		case "Labels":
			w.keyedValues(sc, field, asMap(va), asMap(vb))
		case "ExposedPorts", "Volumes":
			w.keyedValues(sc, field, asMap(va), asMap(vb))
		default:
			w.value(sc, LevelConfig, field, va, oka, vb, okb, "")
		}
	}
}

func (w *walker) keyedValues(sc scope, field string, a, b map[string]any) {
	for _, k := range unionKeys(a, b) {
		va, oka := a[k]
		vb, okb := b[k]
		if oka == okb && jsonEqual(va, vb) {
			continue
		}
		w.value(sc, LevelConfig, field+" "+k, va, oka, vb, okb, "")
	}
}

// env compares KEY=VALUE lists by key, then their order.
func (w *walker) env(sc scope, field string, a, b []any) {
	parse := func(l []any) (map[string]any, []string) {
		m := map[string]any{}
		var keys []string
		for _, x := range l {
			s, _ := x.(string)
			k, v, _ := strings.Cut(s, "=")
			m[k] = v
			keys = append(keys, k)
		}
		return m, keys
	}
	ma, ka := parse(a)
	mb, kb := parse(b)
	before := len(w.diffs)
	w.keyedValues(sc, field, ma, mb)
	if len(w.diffs) == before {
		w.value(sc, LevelConfig, field+" order", strings.Join(ka, " "), true, strings.Join(kb, " "), true, "the same variables in a different order")
	}
}

type historyChange struct {
	entry    int
	key      string
	va, vb   any
	oka, okb bool
}

// history compares entries pairwise; a change shared by several entries
// (typically created, from SOURCE_DATE_EPOCH) is reported once.
func (w *walker) history(sc scope, a, b []any) {
	if len(a) != len(b) {
		w.value(sc, LevelHistory, "history length", len(a), true, len(b), true, "entries were added or removed (one per layer, plus empty_layer entries)")
	}
	n := len(a)
	if len(b) < n {
		n = len(b)
	}
	var changes []historyChange
	for i := 0; i < n; i++ {
		ea, eb := asMap(a[i]), asMap(b[i])
		for _, k := range ordered(ea, eb, []string{"created", "created_by", "author", "comment", "empty_layer"}) {
			va, oka := ea[k]
			vb, okb := eb[k]
			if oka == okb && jsonEqual(va, vb) {
				continue
			}
			changes = append(changes, historyChange{i, k, va, vb, oka, okb})
		}
	}
	type group struct {
		first   historyChange
		entries []int
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, c := range changes {
		key := fmt.Sprintf("%s\x00%v\x00%s\x00%v\x00%s", c.key, c.oka, render(c.va), c.okb, render(c.vb))
		g := byKey[key]
		if g == nil {
			g = &group{first: c}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.entries = append(g.entries, c.entry)
	}
	for _, g := range groups {
		c := g.first
		note := ""
		if c.key == "created" {
			note = epochNote(render(c.va), render(c.vb))
		}
		field := fmt.Sprintf("history[%d].%s", c.entry, c.key)
		if len(g.entries) > 1 {
			field = "history[*]." + c.key
			note = strings.TrimPrefix(note+fmt.Sprintf("; in %d entries: %s", len(g.entries), intList(g.entries)), "; ")
		}
		w.value(sc, LevelHistory, field, c.va, c.oka, c.vb, c.okb, note)
	}
}

func intList(l []int) string {
	s := make([]string, len(l))
	for i, x := range l {
		s[i] = fmt.Sprint(x)
	}
	if len(s) > 10 {
		return strings.Join(s[:10], ", ") + ", ..."
	}
	return strings.Join(s, ", ")
}
