package diff

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/blob"
	"github.com/rules-repro/rules_repro/tools/canonjson"
	"github.com/rules-repro/rules_repro/tools/oci"
)

// The fixtures are written by hand (archive/tar, canonical JSON) so that
// each test case can change exactly one field.

type tent struct {
	hdr  tar.Header
	body string
}

type testLayer struct {
	entries []tent
	enc     blob.Encoding
	// gzipMtime sets the MTIME field of the gzip header.
	gzipMtime time.Time
	// trailing zero bytes after the end of the archive.
	trailing int
	// edit rewrites the tar bytes before compression.
	edit func([]byte) []byte
}

type testImage struct {
	platform    string
	config      map[string]any // without rootfs
	history     []map[string]any
	layers      []testLayer
	annotations map[string]string
}

var epoch0 = time.Unix(0, 0)

func baseLayer() testLayer {
	return testLayer{
		enc: blob.Encoding{Compression: blob.Gzip},
		entries: []tent{
			{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "app/", Mode: 0o755, ModTime: epoch0}},
			{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "app/hello", Mode: 0o755, ModTime: epoch0}, body: "#!/bin/sh\necho hello\n"},
			{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "app/motd", Mode: 0o644, ModTime: epoch0}, body: "welcome\n"},
			{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "usr/", Mode: 0o755, ModTime: epoch0}},
			{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "usr/hello", Linkname: "/app/hello", Mode: 0o777, ModTime: epoch0}},
		},
	}
}

func baseImage() testImage {
	return testImage{
		platform: "linux/amd64",
		config: map[string]any{
			"architecture": "amd64",
			"os":           "linux",
			"created":      "1970-01-01T00:00:00Z",
			"config": map[string]any{
				"Entrypoint":   []any{"/app/hello"},
				"Env":          []any{"PATH=/usr/bin:/bin", "LANG=C"},
				"User":         "65534",
				"Labels":       map[string]any{"org.opencontainers.image.title": "test"},
				"ExposedPorts": map[string]any{"8080/tcp": map[string]any{}},
			},
		},
		history:     []map[string]any{{"created": "1970-01-01T00:00:00Z", "created_by": "//app:layer", "comment": "rules_repro"}},
		layers:      []testLayer{baseLayer()},
		annotations: map[string]string{oci.AnnotationCreated: "1970-01-01T00:00:00Z", "dev.rules-repro.compatibility-version": "1"},
	}
}

// clone deep-copies an image through JSON-free copying of its parts.
func (img testImage) clone() testImage {
	c := img
	c.config = deepCopy(img.config).(map[string]any)
	c.history = nil
	for _, h := range img.history {
		c.history = append(c.history, deepCopy(h).(map[string]any))
	}
	c.layers = nil
	for _, l := range img.layers {
		nl := l
		nl.entries = append([]tent(nil), l.entries...)
		for i := range nl.entries {
			if l.entries[i].hdr.PAXRecords != nil {
				nl.entries[i].hdr.PAXRecords = map[string]string{}
				for k, v := range l.entries[i].hdr.PAXRecords {
					nl.entries[i].hdr.PAXRecords[k] = v
				}
			}
		}
		c.layers = append(c.layers, nl)
	}
	c.annotations = map[string]string{}
	for k, v := range img.annotations {
		c.annotations[k] = v
	}
	return c
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}

func writeTar(t *testing.T, l testLayer) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range l.entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("%s: %v", h.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	buf.Write(make([]byte, l.trailing))
	if l.edit != nil {
		return l.edit(buf.Bytes())
	}
	return buf.Bytes()
}

func compress(t *testing.T, l testLayer, data []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if l.enc.Compression == blob.Gzip && !l.gzipMtime.IsZero() {
		zw, _ := gzip.NewWriterLevel(&out, gzip.DefaultCompression)
		zw.ModTime = l.gzipMtime
		zw.Write(data)
		zw.Close()
		return out.Bytes()
	}
	w, err := blob.NewCompressor(&out, l.enc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func mediaTypeOf(c blob.Compression) string {
	switch c {
	case blob.Gzip:
		return oci.MediaTypeLayerGzip
	case blob.Zstd:
		return oci.MediaTypeLayerZstd
	}
	return oci.MediaTypeLayer
}

type blobs map[digest.Digest][]byte

func (b blobs) add(data []byte) digest.Digest {
	d := digest.FromBytes(data)
	b[d] = data
	return d
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := canonjson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// build writes the image's blobs and returns its manifest descriptor.
func (img testImage) build(t *testing.T, bs blobs) specs.Descriptor {
	t.Helper()
	cfg := deepCopy(img.config).(map[string]any)
	var diffIDs []any
	var layers []any
	for _, l := range img.layers {
		tarData := writeTar(t, l)
		diffIDs = append(diffIDs, digest.FromBytes(tarData).String())
		blobData := compress(t, l, tarData)
		d := bs.add(blobData)
		layers = append(layers, map[string]any{"mediaType": mediaTypeOf(l.enc.Compression), "digest": d.String(), "size": len(blobData)})
	}
	cfg["rootfs"] = map[string]any{"type": "layers", "diff_ids": diffIDs}
	var hist []any
	for _, h := range img.history {
		hist = append(hist, h)
	}
	if hist != nil {
		cfg["history"] = hist
	}
	cfgData := mustJSON(t, cfg)
	cd := bs.add(cfgData)
	man := map[string]any{
		"schemaVersion": 2,
		"mediaType":     oci.MediaTypeImageManifest,
		"config":        map[string]any{"mediaType": oci.MediaTypeImageConfig, "digest": cd.String(), "size": len(cfgData)},
		"layers":        layers,
	}
	if len(img.annotations) > 0 {
		man["annotations"] = img.annotations
	}
	manData := mustJSON(t, man)
	md := bs.add(manData)
	p, err := oci.ParsePlatform(img.platform)
	if err != nil {
		t.Fatal(err)
	}
	return specs.Descriptor{MediaType: oci.MediaTypeImageManifest, Digest: md, Size: int64(len(manData)), Platform: p}
}

// writeLayout writes an OCI layout holding one image, or an index of
// several.
func writeLayout(t *testing.T, dir string, imgs ...testImage) specs.Descriptor {
	t.Helper()
	bs := blobs{}
	var root specs.Descriptor
	if len(imgs) == 1 {
		root = imgs[0].build(t, bs)
	} else {
		var ms []any
		for _, img := range imgs {
			d := img.build(t, bs)
			ms = append(ms, map[string]any{"mediaType": d.MediaType, "digest": d.Digest.String(), "size": d.Size,
				"platform": map[string]any{"os": d.Platform.OS, "architecture": d.Platform.Architecture, "variant": d.Platform.Variant}})
		}
		idx := mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": oci.MediaTypeImageIndex, "manifests": ms})
		root = specs.Descriptor{MediaType: oci.MediaTypeImageIndex, Digest: bs.add(idx), Size: int64(len(idx))}
	}
	for d, data := range bs {
		p := blobPath(t, dir, d)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := root
	r.Platform = nil
	index := mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": oci.MediaTypeImageIndex, "manifests": []any{r}})
	if err := os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func compareDirs(t *testing.T, a, b string, o Options) *Report {
	t.Helper()
	ctx := context.Background()
	sa, err := Open(ctx, a, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sa.Close()
	sb, err := Open(ctx, b, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	rep, err := Compare(ctx, sa, sb, o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func reportText(r *Report) string {
	var b strings.Builder
	WriteText(&b, r)
	return b.String()
}

// want describes a difference a case must report.
type want struct {
	level, kind, field, entry string
	// note, when set, must be in the difference's note.
	note string
}

func (w want) matches(d Difference) bool {
	return d.Level == w.level && (w.kind == "" || d.Kind == w.kind) && (w.field == "" || d.Field == w.field) &&
		(w.entry == "" || d.Entry == w.entry || contains(d.Examples, w.entry)) && strings.Contains(d.Note, w.note)
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func entryOf(img *testImage, name string) *tar.Header {
	for i := range img.layers[0].entries {
		if img.layers[0].entries[i].hdr.Name == name {
			return &img.layers[0].entries[i].hdr
		}
	}
	panic("no entry " + name)
}

func setBody(img *testImage, name, body string) {
	for i := range img.layers[0].entries {
		if img.layers[0].entries[i].hdr.Name == name {
			img.layers[0].entries[i].body = body
		}
	}
}

// TestSingleFieldMutations changes one thing of an image at a time and
// checks that the diff names it, and only it.
func TestSingleFieldMutations(t *testing.T) {
	hello := "app/hello"
	for _, tc := range []struct {
		name   string
		mutate func(*testImage)
		want   []want
	}{
		{"mtime", func(i *testImage) { entryOf(i, hello).ModTime = time.Unix(1700000000, 0) },
			[]want{{level: LevelEntry, kind: Changed, field: "mtime", entry: hello}}},
		{"mode", func(i *testImage) { entryOf(i, hello).Mode = 0o700 },
			[]want{{level: LevelEntry, field: "mode", entry: hello}}},
		{"uid", func(i *testImage) { entryOf(i, hello).Uid = 1000 },
			[]want{{level: LevelEntry, field: "uid", entry: hello}}},
		{"gid", func(i *testImage) { entryOf(i, hello).Gid = 1000 },
			[]want{{level: LevelEntry, field: "gid", entry: hello}}},
		{"uname", func(i *testImage) { entryOf(i, hello).Uname = "app" },
			[]want{{level: LevelEntry, field: "uname", entry: hello}}},
		{"gname", func(i *testImage) { entryOf(i, hello).Gname = "app" },
			[]want{{level: LevelEntry, field: "gname", entry: hello}}},
		{"content", func(i *testImage) { setBody(i, hello, "#!/bin/sh\necho hallo\n") },
			[]want{{level: LevelEntry, field: "content", entry: hello}}},
		{"size", func(i *testImage) { setBody(i, hello, "#!/bin/sh\necho hello world\n") },
			[]want{{level: LevelEntry, field: "content", entry: hello}}},
		{"link target", func(i *testImage) { entryOf(i, "usr/hello").Linkname = "../app/hello" },
			[]want{{level: LevelEntry, field: "link target", entry: "usr/hello"}}},
		{"PAX record", func(i *testImage) {
			entryOf(i, hello).PAXRecords = map[string]string{"comment": "built on a Tuesday"}
		}, []want{{level: LevelEntry, field: "PAX record comment", entry: hello}, {level: LevelEntry, field: "format", entry: hello}}},
		{"xattr", func(i *testImage) {
			entryOf(i, hello).PAXRecords = map[string]string{"SCHILY.xattr.security.capability": "cap"}
		}, []want{{level: LevelEntry, field: "xattr security.capability", entry: hello}, {level: LevelEntry, field: "format", entry: hello}}},
		{"USTAR vs PAX", func(i *testImage) {
			h := entryOf(i, hello)
			h.PAXRecords, h.Format = map[string]string{"path": hello}, tar.FormatPAX
		}, []want{{level: LevelEntry, field: "format", entry: hello}}},
		{"GNU format", func(i *testImage) { entryOf(i, hello).Format = tar.FormatGNU },
			[]want{{level: LevelEntry, field: "format", entry: hello}}},
		{"header bytes", func(i *testImage) {
			// The mode written as old tars do ("000755 " instead of
			// "0000755"), with the checksum fixed: every field is equal.
			i.layers[0].edit = func(b []byte) []byte {
				b = append([]byte(nil), b...)
				for off := 0; off+512 <= len(b); off += 512 {
					if string(b[off:off+len(hello)+1]) == hello+"\x00" {
						copy(b[off+100:off+108], "000755 \x00")
						copy(b[off+148:off+156], "        ")
						sum := 0
						for _, c := range b[off : off+512] {
							sum += int(c)
						}
						copy(b[off+148:off+156], fmt.Sprintf("%06o\x00 ", sum))
					}
				}
				return b
			}
		}, []want{{level: LevelEntry, field: "header bytes", entry: hello}}},
		{"name spelling", func(i *testImage) { entryOf(i, hello).Name = "./app/hello" },
			[]want{{level: LevelEntry, field: "name spelling", entry: hello}}},
		{"extra file", func(i *testImage) {
			i.layers[0].entries = append(i.layers[0].entries, tent{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "app/extra", Mode: 0o644, ModTime: epoch0}, body: "x"})
		}, []want{{level: LevelEntry, kind: Added, entry: "app/extra"}}},
		{"removed file", func(i *testImage) {
			i.layers[0].entries = i.layers[0].entries[:2]
			i.layers[0].entries = append(i.layers[0].entries, baseLayer().entries[3:]...)
		}, []want{{level: LevelEntry, kind: Removed, entry: "app/motd"}}},
		{"reordered entries", func(i *testImage) {
			e := i.layers[0].entries
			e[1], e[2] = e[2], e[1]
		}, []want{{level: LevelEntry, kind: Order, field: "entry order"}}},
		{"trailing padding", func(i *testImage) { i.layers[0].trailing = 7680 },
			[]want{{level: LevelLayer, field: "bytes after the end-of-archive marker"}}},
		{"compression level", func(i *testImage) { i.layers[0].enc = blob.Encoding{Compression: blob.Gzip, Level: 9, HasLevel: true} },
			[]want{{level: LevelCompression, field: "gzip XFL"}, {level: LevelCompression, field: "encoder and level"}}},
		{"compression level without header change", func(i *testImage) { i.layers[0].enc = blob.Encoding{Compression: blob.Gzip, Level: 5, HasLevel: true} },
			[]want{{level: LevelCompression, field: "encoder and level", note: "the same tar"}}},
		{"gzip header mtime", func(i *testImage) { i.layers[0].gzipMtime = time.Unix(1700000000, 0) },
			[]want{{level: LevelCompression, field: "gzip MTIME"}}},
		{"compression algorithm", func(i *testImage) { i.layers[0].enc = blob.Encoding{Compression: blob.Zstd} },
			[]want{{level: LevelCompression, field: "compression"}}},
		{"created", func(i *testImage) { i.config["created"] = "2023-11-14T22:13:20Z" },
			[]want{{level: LevelConfig, field: "created", note: "SOURCE_DATE_EPOCH 0 → 1700000000"}}},
		{"author", func(i *testImage) { i.config["author"] = "someone" },
			[]want{{level: LevelConfig, kind: Added, field: "author"}}},
		{"architecture", func(i *testImage) { i.config["architecture"] = "arm64" },
			[]want{{level: LevelConfig, field: "architecture"}}},
		{"entrypoint", func(i *testImage) { asMap(i.config["config"])["Entrypoint"] = []any{"/app/hello", "-v"} },
			[]want{{level: LevelConfig, field: "config.Entrypoint"}}},
		{"cmd", func(i *testImage) { asMap(i.config["config"])["Cmd"] = []any{"--port=1"} },
			[]want{{level: LevelConfig, kind: Added, field: "config.Cmd"}}},
		{"env value", func(i *testImage) {
			asMap(i.config["config"])["Env"] = []any{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C"}
		},
			[]want{{level: LevelConfig, field: "config.Env PATH"}}},
		{"env order", func(i *testImage) { asMap(i.config["config"])["Env"] = []any{"LANG=C", "PATH=/usr/bin:/bin"} },
			[]want{{level: LevelConfig, field: "config.Env order"}}},
		{"user", func(i *testImage) { asMap(i.config["config"])["User"] = "0" },
			[]want{{level: LevelConfig, field: "config.User"}}},
		{"workdir", func(i *testImage) { asMap(i.config["config"])["WorkingDir"] = "/app" },
			[]want{{level: LevelConfig, kind: Added, field: "config.WorkingDir"}}},
		{"label", func(i *testImage) {
			asMap(i.config["config"])["Labels"] = map[string]any{"org.opencontainers.image.title": "other"}
		}, []want{{level: LevelConfig, field: "config.Labels org.opencontainers.image.title"}}},
		{"exposed port", func(i *testImage) {
			asMap(i.config["config"])["ExposedPorts"] = map[string]any{"8080/tcp": map[string]any{}, "9090/tcp": map[string]any{}}
		}, []want{{level: LevelConfig, kind: Added, field: "config.ExposedPorts 9090/tcp"}}},
		{"history created_by", func(i *testImage) { i.history[0]["created_by"] = "//app:other" },
			[]want{{level: LevelHistory, field: "history[0].created_by"}}},
		{"history created", func(i *testImage) { i.history[0]["created"] = "2023-11-14T22:13:20Z" },
			[]want{{level: LevelHistory, field: "history[0].created", note: "SOURCE_DATE_EPOCH"}}},
		{"manifest created annotation", func(i *testImage) { i.annotations[oci.AnnotationCreated] = "2023-11-14T22:13:20Z" },
			[]want{{level: LevelManifest, field: "annotation org.opencontainers.image.created", note: "SOURCE_DATE_EPOCH 0 → 1700000000"}}},
		{"compatibility version annotation", func(i *testImage) { i.annotations["dev.rules-repro.compatibility-version"] = "2" },
			[]want{{level: LevelManifest, field: "annotation dev.rules-repro.compatibility-version", note: "compatibility versions differ"}}},
		{"extra layer", func(i *testImage) {
			l := baseLayer()
			l.entries = l.entries[:1]
			i.layers = append(i.layers, l)
			i.history = append(i.history, map[string]any{"created": "1970-01-01T00:00:00Z", "created_by": "//app:extra"})
		}, []want{{level: LevelManifest, field: "layer count"}, {level: LevelLayer, kind: Added}, {level: LevelHistory, field: "history length"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
			base := baseImage()
			writeLayout(t, a, base)
			m := base.clone()
			tc.mutate(&m)
			writeLayout(t, b, m)
			rep := compareDirs(t, a, b, Options{})
			text := reportText(rep)
			if rep.Equal {
				t.Fatalf("reported equal:\n%s", text)
			}
			for _, w := range tc.want {
				found := false
				for _, d := range rep.Differences {
					found = found || w.matches(d)
				}
				if !found {
					t.Errorf("no difference %+v in:\n%s", w, text)
				}
			}
			// Consequences (the layer digest in the manifest, the config's
			// diff_ids) are never reported as causes.
			for _, d := range rep.Differences {
				if strings.Contains(d.Field, "diff_ids") || d.Field == "config digest" {
					t.Errorf("a consequence reported as a cause: %+v", d)
				}
			}
			if t.Failed() || testing.Verbose() {
				t.Logf("\n%s", text)
			}
			// The reverse comparison finds as many causes.
			if rev := compareDirs(t, b, a, Options{}); len(rev.Differences) != len(rep.Differences) {
				t.Errorf("A→B has %d differences, B→A %d:\n%s", len(rep.Differences), len(rev.Differences), reportText(rev))
			}
		})
	}
}

// TestMutationsFirstCauseOnly: a single-field change yields exactly the
// differences of that field, nothing derived from it.
func TestMutationsFirstCauseOnly(t *testing.T) {
	dir := t.TempDir()
	base := baseImage()
	writeLayout(t, filepath.Join(dir, "a"), base)
	m := base.clone()
	entryOf(&m, "app/hello").Mode = 0o700
	writeLayout(t, filepath.Join(dir, "b"), m)
	rep := compareDirs(t, filepath.Join(dir, "a"), filepath.Join(dir, "b"), Options{})
	if len(rep.Differences) != 1 {
		t.Fatalf("want exactly one difference (the mode), got:\n%s", reportText(rep))
	}
	d := rep.Differences[0]
	if d.Layer == nil || *d.Layer != 0 || d.Entry != "app/hello" || *d.A != "0755" || *d.B != "0700" {
		t.Errorf("got %+v", d)
	}
}

func TestIndexPlatforms(t *testing.T) {
	amd := baseImage()
	arm := baseImage().clone()
	arm.platform = "linux/arm64/v8"
	arm.config["architecture"] = "arm64"
	arm.config["variant"] = "v8"
	renamed := arm.clone()
	renamed.platform = "linux/arm64"
	changed := arm.clone()
	setBody(&changed, "app/hello", "arm64 code")
	v7 := baseImage().clone()
	v7.platform, v7.config["architecture"], v7.config["variant"] = "linux/arm/v7", "arm", "v7"
	for _, tc := range []struct {
		name string
		a, b []testImage
		want []want
	}{
		{"renamed platform", []testImage{amd, arm}, []testImage{amd, renamed},
			[]want{{level: LevelIndex, kind: Changed, field: "platform"}}},
		{"added platform", []testImage{amd, arm}, []testImage{amd, arm, v7},
			[]want{{level: LevelIndex, kind: Added, field: "platform"}}},
		{"manifests order", []testImage{amd, arm}, []testImage{arm, amd},
			[]want{{level: LevelIndex, kind: Order}}},
		{"one platform's content", []testImage{amd, arm}, []testImage{amd, changed},
			[]want{{level: LevelEntry, field: "content", entry: "app/hello"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
			writeLayout(t, a, tc.a...)
			writeLayout(t, b, tc.b...)
			rep := compareDirs(t, a, b, Options{})
			text := reportText(rep)
			for _, w := range tc.want {
				found := false
				for _, d := range rep.Differences {
					found = found || w.matches(d)
				}
				if !found {
					t.Errorf("no difference %+v in:\n%s", w, text)
				}
			}
			if tc.name == "one platform's content" {
				for _, d := range rep.Differences {
					if d.Platform != "linux/arm64/v8" {
						t.Errorf("difference outside linux/arm64/v8: %+v\n%s", d, text)
					}
				}
			}
		})
	}
}

func TestIndexVersusImage(t *testing.T) {
	dir := t.TempDir()
	amd := baseImage()
	arm := baseImage().clone()
	arm.platform, arm.config["architecture"] = "linux/arm64", "arm64"
	writeLayout(t, filepath.Join(dir, "index"), amd, arm)
	m := amd.clone()
	entryOf(&m, "app/hello").Uid = 7
	writeLayout(t, filepath.Join(dir, "image"), m)
	rep := compareDirs(t, filepath.Join(dir, "index"), filepath.Join(dir, "image"), Options{})
	text := reportText(rep)
	if !strings.Contains(text, "kind: an index of 2 images (linux/amd64, linux/arm64) → one image (linux/amd64)") ||
		!strings.Contains(text, "linux/amd64 layer 0:\n  app/hello: uid: 0 → 7") {
		t.Errorf("got:\n%s", text)
	}
}

func TestSemantic(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mutate    func(*testImage)
		wantEqual bool
		want      string
	}{
		{"timestamps, order, format, compression and history are ignored", func(i *testImage) {
			i.config["created"] = "2023-11-14T22:13:20Z"
			i.history[0]["created"] = "2023-11-14T22:13:20Z"
			i.annotations[oci.AnnotationCreated] = "2023-11-14T22:13:20Z"
			for k := range i.layers[0].entries {
				i.layers[0].entries[k].hdr.ModTime = time.Unix(1700000000, 0)
			}
			e := i.layers[0].entries
			e[1], e[2] = e[2], e[1]
			entryOf(i, "app/hello").Format = tar.FormatGNU
			entryOf(i, "app/hello").Name = "./app/hello"
			i.layers[0].enc = blob.Encoding{Compression: blob.Zstd}
		}, true, ""},
		{"content still differs", func(i *testImage) {
			for k := range i.layers[0].entries {
				i.layers[0].entries[k].hdr.ModTime = time.Unix(1700000000, 0)
			}
			setBody(i, "app/motd", "bye\n")
		}, false, "app/motd: content:"},
		{"mode still differs", func(i *testImage) { entryOf(i, "app/motd").Mode = 0o600 }, false, "app/motd: mode: 0644 → 0600"},
		{"config still differs", func(i *testImage) { asMap(i.config["config"])["User"] = "0" }, false, "config.User: 65534 → 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			base := baseImage()
			writeLayout(t, filepath.Join(dir, "a"), base)
			m := base.clone()
			tc.mutate(&m)
			writeLayout(t, filepath.Join(dir, "b"), m)
			rep := compareDirs(t, filepath.Join(dir, "a"), filepath.Join(dir, "b"), Options{Semantic: true})
			text := reportText(rep)
			if rep.Equal != tc.wantEqual || !strings.Contains(text, tc.want) {
				t.Errorf("equal %v, want %v, and %q in:\n%s", rep.Equal, tc.wantEqual, tc.want, text)
			}
			if tc.wantEqual && !strings.Contains(text, "differ only in what is ignored") {
				t.Errorf("got:\n%s", text)
			}
			if rep2 := compareDirs(t, filepath.Join(dir, "a"), filepath.Join(dir, "b"), Options{}); rep2.Equal {
				t.Errorf("without --semantic the images are equal")
			}
		})
	}
}

func TestIdentical(t *testing.T) {
	dir := t.TempDir()
	writeLayout(t, filepath.Join(dir, "a"), baseImage())
	writeLayout(t, filepath.Join(dir, "b"), baseImage())
	rep := compareDirs(t, filepath.Join(dir, "a"), filepath.Join(dir, "b"), Options{})
	if !rep.Equal || len(rep.Differences) != 0 {
		t.Errorf("got:\n%s", reportText(rep))
	}
}

// TestManyEntriesGrouped: a change shared by many entries is one line, and
// the list of other changes is bounded.
func TestManyEntriesGrouped(t *testing.T) {
	dir := t.TempDir()
	base := baseImage()
	for i := 0; i < 300; i++ {
		base.layers[0].entries = append(base.layers[0].entries, tent{hdr: tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("data/%03d", i), Mode: 0o644, ModTime: epoch0}, body: fmt.Sprint(i)})
	}
	writeLayout(t, filepath.Join(dir, "a"), base)
	m := base.clone()
	for i := range m.layers[0].entries {
		m.layers[0].entries[i].hdr.ModTime = time.Unix(5, 0)
		if strings.HasPrefix(m.layers[0].entries[i].hdr.Name, "data/") {
			m.layers[0].entries[i].body += "!"
		}
	}
	writeLayout(t, filepath.Join(dir, "b"), m)
	rep := compareDirs(t, filepath.Join(dir, "a"), filepath.Join(dir, "b"), Options{MaxEntries: 10})
	var mtime, content, truncated int
	for _, d := range rep.Differences {
		switch {
		case d.Field == "mtime":
			mtime++
			if d.Entries != 305 {
				t.Errorf("mtime group has %d entries", d.Entries)
			}
		case d.Field == "content":
			content++
		case d.Kind == Truncated:
			truncated = d.Entries
		}
	}
	if mtime != 1 || content != 10 || truncated != 290 {
		t.Errorf("mtime lines %d (want 1), content lines %d (want 10), truncated %d (want 290):\n%s", mtime, content, truncated, reportText(rep))
	}
}

func TestJSONOutput(t *testing.T) {
	dir := t.TempDir()
	base := baseImage()
	writeLayout(t, filepath.Join(dir, "a"), base)
	m := base.clone()
	entryOf(&m, "app/hello").Mode = 0o700
	writeLayout(t, filepath.Join(dir, "b"), m)
	rep := compareDirs(t, filepath.Join(dir, "a"), filepath.Join(dir, "b"), Options{})
	var buf bytes.Buffer
	if err := WriteJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Equal       bool
		Differences []map[string]any
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"level": "entry", "layer": 0.0, "kind": "changed", "entry": "app/hello", "field": "mode", "a": "0755", "b": "0700"}
	if got.Equal || len(got.Differences) != 1 || fmt.Sprint(got.Differences[0]) != fmt.Sprint(want) {
		t.Errorf("got %s", buf.String())
	}
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func writeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkReg(name string, mode int64) tar.Header {
	return tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, ModTime: epoch0}
}
