package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/oci"
)

// TestMaterializeTakesVersion: layout, oci-archive and docker-archive take
// --compatibility-version like repro image: an unknown or malformed one
// fails naming it and writes nothing; versions 1 and 2 (which share their
// archive encoding) and the default write the same bytes.
func TestMaterializeTakesVersion(t *testing.T) {
	dir := buildChain(t)
	o := func(n string) string { return filepath.Join(dir, n) }
	common := []string{"--descriptor", o("img-amd64.json"), "--blob", o("cfg-amd64.json"), "--blob", o("man-amd64.json"), "--layer", o("l1.json") + "=" + o("l1.tgz")}
	for _, kind := range []string{"layout", "oci-archive", "docker-archive"} {
		for _, bad := range []struct{ v, want string }{{"99", "unknown compatibility version 99"}, {"0x1", `"0x1" is not an integer`}, {"-1", "unknown compatibility version -1"}} {
			out := o("bad-" + kind)
			code, _, stderr := runCLI(t, append([]string{kind, "--output", out, "--compatibility-version", bad.v}, common...)...)
			if code == 0 || !strings.Contains(stderr, bad.want) {
				t.Errorf("%s --compatibility-version %s: exit %d, stderr %q; want failure with %q", kind, bad.v, code, stderr, bad.want)
			}
			if left := outputsLeft(t, dir, out); len(left) > 0 {
				t.Errorf("%s: outputs left behind: %v", kind, left)
			}
		}
		var first []byte
		for i, v := range [][]string{nil, {"--compatibility-version", "1"}, {"--compatibility-version", "2"}} {
			out := o(kind + "-v" + string(rune('0'+i)))
			mustCLI(t, append(append([]string{kind, "--output", out}, v...), common...)...)
			p := out
			if kind == "layout" {
				p = filepath.Join(out, "index.json")
			}
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = data
			} else if !bytes.Equal(data, first) {
				t.Errorf("%s %v: other bytes than the default version's", kind, v)
			}
		}
	}
}

// TestLoadArchiveVersion: `repro load` writes the archive it streams under
// the version the image's manifest records.
func TestLoadArchiveVersion(t *testing.T) {
	for _, c := range []struct {
		annotations string
		want        int
		err         string
	}{
		{``, 1, ""},
		{`,"annotations":{"dev.rules-repro.compatibility-version":"2"}`, 2, ""},
		{`,"annotations":{"dev.rules-repro.compatibility-version":"1"}`, 1, ""},
		{`,"annotations":{"dev.rules-repro.compatibility-version":"7"}`, 0, "built under compatibility version 7"},
		{`,"annotations":{"dev.rules-repro.compatibility-version":"two"}`, 0, `"two", which is not a compatibility version`},
	} {
		set := oci.NewBlobSet()
		cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
		cd := set.AddBytes(cfg)
		man := []byte(`{"schemaVersion":2,"mediaType":"` + oci.MediaTypeImageManifest + `","config":{"mediaType":"` + oci.MediaTypeImageConfig + `","digest":"` + cd.String() + `","size":` + strconv.Itoa(len(cfg)) + `},"layers":[]` + c.annotations + `}`)
		md := set.AddBytes(man)
		v, err := imageVersion(set, specs.Descriptor{MediaType: oci.MediaTypeImageManifest, Digest: md, Size: int64(len(man))})
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: err %v, want %q", c.annotations, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.annotations, err)
		case c.err == "" && v.Number != c.want:
			t.Errorf("%s: version %d, want %d", c.annotations, v.Number, c.want)
		}
	}
}
