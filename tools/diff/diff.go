// Package diff explains why two images, indexes or layers have different
// digests.
//
// Compare walks index → manifest → config → layers and, at each level,
// reports what differs there in words a user can act on: which platform,
// which config field (with both values; `created` is named as the
// SOURCE_DATE_EPOCH it comes from), which history entry, which layer, and
// inside a layer which tar entries were added, removed or changed and which
// header fields of each (mtime, mode, owner, content, link target, PAX
// records, xattrs, order, USTAR or PAX format). A layer whose tar is the
// same but whose blob differs is explained by its compression: gzip header
// fields, the compression level (found by compressing again at each level
// until one reproduces the blob) and the encoder. Differences that are only
// consequences of another (an index's manifest digest, a config's diff_ids)
// are not reported; the walk descends to their cause instead.
//
// Digests are compared first, so identical subtrees cost nothing. Layers
// are read as streams: each tar entry is summarized (header and a sha256 of
// its content) while it goes by, and only the summaries are compared, so
// memory does not grow with the size of a layer.
//
// With Options.Semantic, timestamps, history, entry order, tar format,
// header encoding and compression are ignored, and only differences of
// content are reported (as diffoci's --semantic).
package diff

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/compat"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/safejson"
)

// Options tune a comparison.
type Options struct {
	// Semantic ignores timestamps (file and image), history, entry order,
	// tar format and header encoding, and compression. The default is to
	// report every difference that changes a digest.
	Semantic bool
	// Platform, when set, compares only that platform of indexes.
	Platform *specs.Platform
	// MaxEntries bounds the tar entries listed one by one per layer
	// (changes shared by many entries are grouped first). The default
	// is 100.
	MaxEntries int
}

// Report is the outcome of a comparison.
type Report struct {
	A        Side `json:"a"`
	B        Side `json:"b"`
	Semantic bool `json:"semantic,omitempty"`
	// Equal: the digests are the same (with Semantic: no difference of
	// content was found).
	Equal bool `json:"equal"`
	// Differences, in walk order: index, then per image manifest,
	// config, history, layers.
	Differences []Difference `json:"differences"`
	// Notes say what could not be compared, and why.
	Notes []string `json:"notes,omitempty"`
}

// Side describes one input.
type Side struct {
	Name      string        `json:"name"`
	Kind      Kind          `json:"kind"`
	MediaType string        `json:"mediaType"`
	Digest    digest.Digest `json:"digest"`
}

// Levels of a Difference.
const (
	LevelIndex       = "index"
	LevelManifest    = "manifest"
	LevelConfig      = "config"
	LevelHistory     = "history"
	LevelLayer       = "layer"
	LevelEntry       = "entry"
	LevelCompression = "compression"
)

// Kinds of a Difference.
const (
	Changed     = "changed"
	Added       = "added"   // only in B
	Removed     = "removed" // only in A
	Order       = "order"
	Encoding    = "encoding"    // same fields, different bytes
	Unavailable = "unavailable" // the blobs needed to look closer are missing
	Truncated   = "truncated"   // more differences than listed
)

// Difference is one cause of different digests.
type Difference struct {
	// Platform of the image it is in ("linux/amd64"), when inside an
	// index.
	Platform string `json:"platform,omitempty"`
	Level    string `json:"level"`
	// Layer is the layer's index in the manifest (0 is the bottom).
	Layer *int   `json:"layer,omitempty"`
	Kind  string `json:"kind"`
	// Entry is a tar entry's path (canonical: no leading "./" or "/").
	Entry string `json:"entry,omitempty"`
	// Entries counts the entries that share this change when they are
	// grouped; Examples names the first few.
	Entries  int      `json:"entries,omitempty"`
	Examples []string `json:"examples,omitempty"`
	// Field is what differs: a config field ("config.Env PATH"), a
	// header field ("mtime"), "platform", ...
	Field string `json:"field,omitempty"`
	// A and B are the values on each side; nil when absent there.
	A *string `json:"a,omitempty"`
	B *string `json:"b,omitempty"`
	// Note explains ("SOURCE_DATE_EPOCH 0 → 1700000000").
	Note string `json:"note,omitempty"`
}

func str(s string) *string { return &s }

// Compare explains the differences between a and b.
func Compare(ctx context.Context, a, b *Source, o Options) (*Report, error) {
	if o.MaxEntries <= 0 {
		o.MaxEntries = 100
	}
	w := &walker{ctx: ctx, a: a, b: b, o: o}
	rep := &Report{
		A:        Side{Name: a.Name, Kind: a.Kind, MediaType: a.Root.MediaType, Digest: a.Root.Digest},
		B:        Side{Name: b.Name, Kind: b.Kind, MediaType: b.Root.MediaType, Digest: b.Root.Digest},
		Semantic: o.Semantic,
	}
	if a.Root.Digest == b.Root.Digest {
		rep.Equal = true
		rep.Differences = []Difference{}
		return rep, nil
	}
	if err := w.root(a.Root, b.Root); err != nil {
		return nil, err
	}
	rep.Differences = w.diffs
	if rep.Differences == nil {
		rep.Differences = []Difference{}
	}
	rep.Notes = w.notes
	// Semantic comparisons and docker archives (which have no manifest to
	// compare) can find nothing although the digests differ.
	rep.Equal = (o.Semantic || w.synthetic) && len(w.diffs) == 0
	if !rep.Equal && len(w.diffs) == 0 {
		// Should not happen: different digests always have a cause.
		w.add(Difference{Level: kindLevel(a.Root.MediaType), Kind: Encoding, Field: "digest", A: str(a.Root.Digest.String()), B: str(b.Root.Digest.String()), Note: "the digests differ but no field does"})
		rep.Differences = w.diffs
	}
	return rep, nil
}

type walker struct {
	ctx   context.Context
	a, b  *Source
	o     Options
	diffs []Difference
	notes []string
	// compat are the compatibility versions of the images being compared.
	compat [2]string
	// synthetic: a made-up manifest (docker archive) was compared.
	synthetic bool
}

// scope is where in the walk a difference is.
type scope struct {
	platform string
	layer    *int
}

func (w *walker) add(d Difference) { w.diffs = append(w.diffs, d) }

func (w *walker) at(sc scope, level, kind, field string, a, b *string, note string) {
	w.add(Difference{Platform: sc.platform, Level: level, Layer: sc.layer, Kind: kind, Field: field, A: a, B: b, Note: note})
}

func (w *walker) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	for _, x := range w.notes {
		if x == n {
			return
		}
	}
	w.notes = append(w.notes, n)
}

func kindLevel(mt string) string {
	switch {
	case oci.IsIndex(mt):
		return LevelIndex
	case oci.IsManifest(mt):
		return LevelManifest
	}
	return LevelLayer
}

func (w *walker) root(a, b specs.Descriptor) error {
	la, lb := kindLevel(a.MediaType), kindLevel(b.MediaType)
	switch {
	case la == lb && la == LevelIndex:
		return w.index(scope{}, a, b)
	case la == lb && la == LevelManifest:
		return w.manifest(scope{}, a, b)
	case la == lb:
		return w.layer(scope{}, a, b, "", "")
	case la == LevelIndex && lb == LevelManifest:
		return w.indexVsImage(a, b, false)
	case la == LevelManifest && lb == LevelIndex:
		return w.indexVsImage(b, a, true)
	case la == LevelLayer:
		return w.layerVsImage(a, b, false)
	default:
		return w.layerVsImage(b, a, true)
	}
}

// --- blobs ---

// jsonOf returns the JSON of a manifest or index: the blob, or what a
// descriptor file says about it (partial: annotations and other fields
// are missing). nil when neither is available.
func (w *walker) jsonOf(s *Source, d specs.Descriptor) (data []byte, partial bool, err error) {
	data, err = s.bytesOf(w.ctx, d)
	if errors.Is(err, errNotFound) {
		if k, ok := s.known[d.Digest]; ok {
			w.note("%s: the blob of %s is not available: compared what its descriptor file says (no annotations)", s.Name, d.Digest)
			return k, true, nil
		}
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if err := safejson.CheckDepth(data); err != nil {
		return nil, false, fmt.Errorf("%s: %s: %w", s.Name, d.Digest, err)
	}
	return data, false, nil
}

// unavailable reports two blobs that differ when one of them (d, on side)
// cannot be read.
func (w *walker) unavailable(sc scope, level string, side *Source, d specs.Descriptor, what string, a, b specs.Descriptor) {
	w.at(sc, level, Unavailable, what, str(a.Digest.String()), str(b.Digest.String()), fmt.Sprintf("its blob is not in %s; add --blobs-from LAYOUT, --blob or --layer", side.Name))
}

// --- index ---

type platformed struct {
	key  string
	desc specs.Descriptor
}

func platformKey(d specs.Descriptor) string {
	if d.Platform == nil {
		return "unknown"
	}
	k := oci.PlatformString(d.Platform)
	if d.Platform.OSVersion != "" {
		k += " " + d.Platform.OSVersion
	}
	return k
}

func keyed(ms []specs.Descriptor, want *specs.Platform) []platformed {
	seen := map[string]int{}
	var out []platformed
	for _, m := range ms {
		if want != nil && (m.Platform == nil || !oci.PlatformMatches(want, m.Platform)) {
			continue
		}
		k := platformKey(m)
		seen[k]++
		if seen[k] > 1 {
			k = fmt.Sprintf("%s #%d", k, seen[k])
		}
		out = append(out, platformed{k, m})
	}
	return out
}

// parsedPair is both sides' index or manifest: raw bytes and parsed.
type parsedPair[T any] struct {
	rawA, rawB []byte
	a, b       *T
	partial    bool // a side was known only from its descriptor file
}

// bothOf reads and parses the two sides' index or manifest (what names it;
// level is where an unreadable side is reported). It returns nil when a
// side is not available: that is reported, and there is nothing to compare.
func bothOf[T any](w *walker, sc scope, level, what string, da, db specs.Descriptor, parse func([]byte) (*T, error)) (*parsedPair[T], error) {
	ja, pa, err := w.jsonOf(w.a, da)
	if err != nil {
		return nil, err
	}
	jb, pb, err := w.jsonOf(w.b, db)
	if err != nil {
		return nil, err
	}
	if ja == nil || jb == nil {
		side, d := w.a, da
		if ja != nil {
			side, d = w.b, db
		}
		w.unavailable(sc, level, side, d, what, da, db)
		return nil, nil
	}
	p := &parsedPair[T]{rawA: ja, rawB: jb, partial: pa || pb}
	if p.a, err = parse(ja); err != nil {
		return nil, fmt.Errorf("%s: %s %s: %w", w.a.Name, what, da.Digest, err)
	}
	if p.b, err = parse(jb); err != nil {
		return nil, fmt.Errorf("%s: %s %s: %w", w.b.Name, what, db.Digest, err)
	}
	return p, nil
}

func (w *walker) index(sc scope, da, db specs.Descriptor) error {
	p, err := bothOf(w, sc, LevelIndex, "index", da, db, oci.ParseIndex)
	if err != nil || p == nil {
		return err
	}
	ia, ib, ja, jb, partial := *p.a, *p.b, p.rawA, p.rawB, p.partial
	before := len(w.diffs)
	if !partial {
		w.field(sc, LevelIndex, "mediaType", ia.MediaType, ib.MediaType)
		w.annotations(sc, LevelIndex, ia.Annotations, ib.Annotations)
	}

	ka, kb := keyed(ia.Manifests, w.o.Platform), keyed(ib.Manifests, w.o.Platform)
	inB := map[string]specs.Descriptor{}
	for _, m := range kb {
		inB[m.key] = m.desc
	}
	inA := map[string]bool{}
	var onlyA, onlyB []platformed
	for _, m := range ka {
		inA[m.key] = true
		if _, ok := inB[m.key]; !ok {
			onlyA = append(onlyA, m)
		}
	}
	for _, m := range kb {
		if !inA[m.key] {
			onlyB = append(onlyB, m)
		}
	}
	type pair struct {
		sc   scope
		a, b specs.Descriptor
	}
	var pairs []pair
	if len(onlyA) == 1 && len(onlyB) == 1 {
		w.at(sc, LevelIndex, Changed, "platform", str(onlyA[0].key), str(onlyB[0].key), "the platform of an image was renamed; its image is compared below")
		pairs = append(pairs, pair{scope{platform: onlyB[0].key}, onlyA[0].desc, onlyB[0].desc})
	} else {
		for _, m := range onlyA {
			w.at(sc, LevelIndex, Removed, "platform", str(m.key), nil, "image "+m.desc.Digest.String())
		}
		for _, m := range onlyB {
			w.at(sc, LevelIndex, Added, "platform", nil, str(m.key), "image "+m.desc.Digest.String())
		}
	}
	var orderA, orderB []string
	for _, m := range ka {
		if _, ok := inB[m.key]; ok {
			orderA = append(orderA, m.key)
		}
	}
	for _, m := range kb {
		if inA[m.key] {
			orderB = append(orderB, m.key)
		}
	}
	if !w.o.Semantic {
		for i := range orderA {
			if orderA[i] != orderB[i] {
				w.at(sc, LevelIndex, Order, "manifests order", str(strings.Join(orderA, ", ")), str(strings.Join(orderB, ", ")), fmt.Sprintf("the images are listed in a different order (first at position %d)", i))
				break
			}
		}
	}
	for _, m := range ka {
		if b, ok := inB[m.key]; ok {
			pairs = append(pairs, pair{scope{platform: m.key}, m.desc, b})
		}
	}
	for _, p := range pairs {
		a, b := p.a, p.b
		psc := p.sc
		if sc.platform != "" {
			psc.platform = sc.platform + " > " + psc.platform
		}
		if !w.o.Semantic {
			w.annotations(psc, LevelIndex, a.Annotations, b.Annotations)
		}
		if a.Digest == b.Digest {
			continue
		}
		switch {
		case oci.IsIndex(a.MediaType) && oci.IsIndex(b.MediaType):
			err = w.index(psc, a, b)
		case oci.IsManifest(a.MediaType) && oci.IsManifest(b.MediaType):
			err = w.manifest(psc, a, b)
		default:
			w.at(psc, LevelIndex, Changed, "mediaType", str(a.MediaType), str(b.MediaType), "")
		}
		if err != nil {
			return err
		}
	}
	if len(w.diffs) == before && !w.o.Semantic && !partial {
		w.encoding(sc, LevelIndex, ja, jb)
	}
	return nil
}

// indexVsImage compares the image of an index (on side A unless swapped)
// for the platform of a single image.
func (w *walker) indexVsImage(idx, img specs.Descriptor, swapped bool) error {
	is, ms := w.a, w.b
	if swapped {
		is, ms = w.b, w.a
	}
	ij, _, err := w.jsonOf(is, idx)
	if err != nil {
		return err
	}
	if ij == nil {
		w.unavailable(scope{}, LevelIndex, is, idx, "index", idx, img)
		return nil
	}
	index, err := oci.ParseIndex(ij)
	if err != nil {
		return fmt.Errorf("%s: index: %w", is.Name, err)
	}
	plat := img.Platform
	if plat == nil {
		if p, err := w.platformOf(ms, img); err == nil {
			plat = p
		}
	}
	var ps []string
	var match *specs.Descriptor
	for i, m := range index.Manifests {
		ps = append(ps, platformKey(m))
		if match == nil && plat != nil && m.Platform != nil && oci.PlatformMatches(plat, m.Platform) && oci.IsManifest(m.MediaType) {
			match = &index.Manifests[i]
		}
	}
	desc := fmt.Sprintf("an index of %d images (%s)", len(index.Manifests), strings.Join(ps, ", "))
	one := "one image"
	if plat != nil {
		one += " (" + oci.PlatformString(plat) + ")"
	}
	a, b := desc, one
	if swapped {
		a, b = b, a
	}
	w.at(scope{}, LevelIndex, Changed, "kind", str(a), str(b), "one side is an index, the other a single image")
	if match == nil {
		w.note("the index has no image for the platform of the single image; nothing more to compare")
		return nil
	}
	sc := scope{platform: platformKey(*match)}
	if match.Digest == img.Digest {
		return nil
	}
	if swapped {
		return w.manifest(sc, img, *match)
	}
	return w.manifest(sc, *match, img)
}

func (w *walker) platformOf(s *Source, d specs.Descriptor) (*specs.Platform, error) {
	j, _, err := w.jsonOf(s, d)
	if err != nil || j == nil {
		return nil, fmt.Errorf("no manifest")
	}
	m, err := oci.ParseManifest(j)
	if err != nil {
		return nil, err
	}
	data, err := s.bytesOf(w.ctx, m.Config)
	if err != nil {
		return nil, err
	}
	var c specs.Image
	if err := safejson.Unmarshal(data, &c); err != nil {
		return nil, err
	}
	return &specs.Platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant}, nil
}

// layerVsImage compares a single layer with the top layer of an image.
func (w *walker) layerVsImage(l, img specs.Descriptor, swapped bool) error {
	ms := w.b
	if swapped {
		ms = w.a
	}
	j, _, err := w.jsonOf(ms, img)
	if err != nil {
		return err
	}
	if j == nil || !oci.IsManifest(img.MediaType) {
		return fmt.Errorf("compare a layer with a layer or an image, not with %s", img.MediaType)
	}
	m, err := oci.ParseManifest(j)
	if err != nil {
		return err
	}
	if len(m.Layers) == 0 {
		return fmt.Errorf("%s has no layers to compare the layer with", ms.Name)
	}
	top := len(m.Layers) - 1
	w.note("one side is a single layer: it is compared with the top layer (%d) of the image", top)
	if m.Layers[top].Digest == l.Digest {
		return nil
	}
	sc := scope{layer: &top}
	if swapped {
		return w.layer(sc, m.Layers[top], l, "", "")
	}
	return w.layer(sc, l, m.Layers[top], "", "")
}

// --- manifest ---

func (w *walker) manifest(sc scope, da, db specs.Descriptor) error {
	p, err := bothOf(w, sc, LevelManifest, "manifest", da, db, oci.ParseManifest)
	if err != nil || p == nil {
		return err
	}
	ma, mb, ja, jb := *p.a, *p.b, p.rawA, p.rawB
	before := len(w.diffs)
	synthetic := w.a.synthetic[da.Digest] || w.b.synthetic[db.Digest]
	partial := synthetic || p.partial
	if synthetic {
		w.synthetic = true
		w.note("a docker archive holds no manifest: only configs and layers are compared")
	}
	if !partial {
		if ma.MediaType != "" || mb.MediaType != "" {
			w.field(sc, LevelManifest, "mediaType", ma.MediaType, mb.MediaType)
		}
		w.field(sc, LevelManifest, "artifactType", ma.ArtifactType, mb.ArtifactType)
		w.annotations(sc, LevelManifest, ma.Annotations, mb.Annotations)
		if (ma.Subject == nil) != (mb.Subject == nil) || (ma.Subject != nil && ma.Subject.Digest != mb.Subject.Digest) {
			w.field(sc, LevelManifest, "subject", descString(ma.Subject), descString(mb.Subject))
		}
	}
	w.compat = [2]string{ma.Annotations[compat.AnnotationKey], mb.Annotations[compat.AnnotationKey]}

	// Config.
	ca, cb, err := w.configs(sc, ma.Config, mb.Config)
	if err != nil {
		return err
	}
	if ma.Config.Digest != mb.Config.Digest {
		if !partial {
			w.field(sc, LevelManifest, "config mediaType", ma.Config.MediaType, mb.Config.MediaType)
		}
		if ca != nil && cb != nil {
			w.config(sc, ca, cb)
		}
	} else if ca == nil {
		ca = cb // the same config: either side's copy will do
	} else if cb == nil {
		cb = ca
	}
	diffIDs := func(c *config) []string {
		if c == nil {
			return nil
		}
		rootfs, _ := c.fields["rootfs"].(map[string]any)
		ids, _ := rootfs["diff_ids"].([]any)
		var out []string
		for _, x := range ids {
			s, _ := x.(string)
			out = append(out, s)
		}
		return out
	}
	if err := w.layers(sc, ma.Layers, mb.Layers, diffIDs(ca), diffIDs(cb)); err != nil {
		return err
	}
	if len(w.diffs) == before && !w.o.Semantic && !partial {
		w.encoding(sc, LevelManifest, ja, jb)
	}
	return nil
}

func descString(d *specs.Descriptor) string {
	if d == nil {
		return ""
	}
	return d.Digest.String()
}

// configs reads both configs as generic JSON (numbers kept as written).
// A missing one is reported and returned as nil.
func (w *walker) configs(sc scope, da, db specs.Descriptor) (*config, *config, error) {
	read := func(s *Source, d specs.Descriptor) (*config, error) {
		data, err := s.bytesOf(w.ctx, d)
		if errors.Is(err, errNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if err := safejson.CheckDepth(data); err != nil {
			return nil, fmt.Errorf("%s: config %s: %w", s.Name, d.Digest, err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("%s: config %s: %w", s.Name, d.Digest, err)
		}
		return &config{raw: data, fields: m}, nil
	}
	ca, err := read(w.a, da)
	if err != nil {
		return nil, nil, err
	}
	cb, err := read(w.b, db)
	if err != nil {
		return nil, nil, err
	}
	if da.Digest != db.Digest {
		if ca == nil {
			w.unavailable(sc, LevelConfig, w.a, da, "config", da, db)
		} else if cb == nil {
			w.unavailable(sc, LevelConfig, w.b, db, "config", da, db)
		}
	}
	return ca, cb, nil
}

// layers aligns the layer lists (common bottom and top kept in place) and
// compares the layers that differ.
func (w *walker) layers(sc scope, la, lb []specs.Descriptor, ida, idb []string) error {
	id := func(ids []string, i int) digest.Digest {
		if i < len(ids) {
			return digest.Digest(ids[i])
		}
		return ""
	}
	if len(la) != len(lb) {
		w.at(sc, LevelManifest, Changed, "layer count", str(fmt.Sprint(len(la))), str(fmt.Sprint(len(lb))), "")
	}
	// Common prefix and suffix by digest; the middles are compared pairwise.
	pre := 0
	for pre < len(la) && pre < len(lb) && la[pre].Digest == lb[pre].Digest {
		pre++
	}
	suf := 0
	for suf < len(la)-pre && suf < len(lb)-pre && la[len(la)-1-suf].Digest == lb[len(lb)-1-suf].Digest {
		suf++
	}
	ma, mb := la[pre:len(la)-suf], lb[pre:len(lb)-suf]
	n := len(ma)
	if len(mb) < n {
		n = len(mb)
	}
	if len(ma) != len(mb) {
		// Layers added or removed: the extra ones are at the end of the middle.
		for i := n; i < len(ma); i++ {
			k := pre + i
			w.at(scope{sc.platform, &k}, LevelLayer, Removed, "layer", str(ma[i].Digest.String()), nil, "")
		}
		for i := n; i < len(mb); i++ {
			k := pre + i
			w.at(scope{sc.platform, &k}, LevelLayer, Added, "layer", nil, str(mb[i].Digest.String()), "")
		}
	}
	for i := 0; i < n; i++ {
		k := pre + i
		lsc := scope{sc.platform, &k}
		if ma[i].Digest == mb[i].Digest {
			continue
		}
		if err := w.layer(lsc, ma[i], mb[i], id(ida, pre+i), id(idb, pre+i)); err != nil {
			return err
		}
	}
	return nil
}

// --- generic fields ---

func (w *walker) field(sc scope, level, name, a, b string) {
	if a == b {
		return
	}
	var pa, pb *string
	if a != "" {
		pa = str(a)
	}
	if b != "" {
		pb = str(b)
	}
	kind := Changed
	switch {
	case a == "":
		kind = Added
	case b == "":
		kind = Removed
	}
	w.at(sc, level, kind, name, pa, pb, "")
}

func (w *walker) annotations(sc scope, level string, a, b map[string]string) {
	for _, k := range unionKeys(a, b) {
		va, oka := a[k]
		vb, okb := b[k]
		if oka && okb && va == vb {
			continue
		}
		note := ""
		switch k {
		case oci.AnnotationCreated:
			if w.o.Semantic {
				continue
			}
			note = epochNote(va, vb)
		case compat.AnnotationKey:
			note = "the compatibility versions differ: every digest-affecting behaviour (tar encoding, compression, JSON) may differ (docs/compatibility.md)"
		case oci.AnnotationBaseDigest:
			note = "the base image differs"
		}
		var pa, pb *string
		if oka {
			pa = str(va)
		}
		if okb {
			pb = str(vb)
		}
		kind := Changed
		if !oka {
			kind = Added
		} else if !okb {
			kind = Removed
		}
		w.at(sc, level, kind, "annotation "+k, pa, pb, note)
	}
}

func unionKeys[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	var out []string
	for k := range a {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for k := range b {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// encoding reports two JSON documents whose bytes differ although every
// field is equal (key order, whitespace, escaping).
func (w *walker) encoding(sc scope, level string, a, b []byte) {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return
	}
	note := "the same fields and values, written differently (key order, whitespace, number or string escaping)"
	if !reflect.DeepEqual(va, vb) {
		note = "the JSON differs in a field not compared here"
	}
	w.at(sc, level, Encoding, "JSON encoding", str(fmt.Sprintf("%d bytes", len(a))), str(fmt.Sprintf("%d bytes", len(b))), note)
}
