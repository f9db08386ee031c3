package diff

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

var (
	d1 = digest.FromString("one")
	d2 = digest.FromString("two")
	d3 = digest.FromString("three")

	table = `# Golden digests.
#
# target            build                 digest
//app:image         unstamped             ` + d1.String() + `
//app:image         stamped-1700000000    ` + d2.String() + `
`
)

func TestReadGolden(t *testing.T) {
	for _, tc := range []struct {
		name, content, key string
		want               digest.Digest
		line               int
		err                string
	}{
		{name: "one digest", content: d1.String() + "\n", want: d1, line: 1},
		{name: "one digest with comments", content: "# the image\n\n" + d1.String() + "\n", want: d1, line: 3},
		{name: "table row", content: table, key: "//app:image unstamped", want: d1, line: 4},
		{name: "table row, spacing in the key", content: table, key: "  //app:image   stamped-1700000000 ", want: d2, line: 5},
		{name: "missing row", content: table, key: "//app:other unstamped", err: `has no row "//app:other unstamped"`},
		{name: "table without key", content: table, err: "has 2 rows; say which with a key"},
		{name: "duplicate row", content: table + "//app:image unstamped " + d3.String() + "\n", key: "//app:image unstamped", err: "more than once (lines 4 and 6)"},
		{name: "not a digest", content: "//app:image sha256:xyz\n", key: "//app:image", err: "is not a digest"},
		{name: "empty", content: "# nothing\n", err: "holds no digest"},
		{name: "descriptor", content: `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + d1.String() + `","size":3}`, want: d1},
		{name: "descriptor with key", content: `{"digest":"` + d1.String() + `"}`, key: "x", err: "is a descriptor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := parseGolden("golden.txt", tc.key, []byte(tc.content))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.Digest != tc.want || g.Line != tc.line {
				t.Errorf("got %s at line %d, want %s at %d", g.Digest, g.Line, tc.want, tc.line)
			}
		})
	}
}

func TestUpdateGolden(t *testing.T) {
	dir := t.TempDir()
	desc := filepath.Join(dir, "image.descriptor.json")
	os.WriteFile(desc, []byte(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"`+d3.String()+`","size":3}`), 0o644)
	for _, tc := range []struct {
		name, content, key string
		file               string // default golden.txt
		want               string
		old                digest.Digest
	}{
		{name: "one digest", content: "# x\n" + d1.String() + "\n", want: "# x\n" + d3.String() + "\n", old: d1},
		{name: "table row keeps the layout", content: table, key: "//app:image stamped-1700000000",
			want: strings.Replace(table, d2.String(), d3.String(), 1), old: d2},
		{name: "new row", content: table, key: "//app:other unstamped", want: table + "//app:other unstamped " + d3.String() + "\n"},
		{name: "new file", key: "", want: d3.String() + "\n"},
		{name: "descriptor", file: "golden.json", content: `{"digest":"` + d1.String() + `"}`, want: `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + d3.String() + `","size":3}`, old: d1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.file
			if name == "" {
				name = "golden.txt"
			}
			sub := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			os.MkdirAll(sub, 0o755)
			real := filepath.Join(sub, name)
			if tc.content != "" {
				os.WriteFile(real, []byte(tc.content), 0o644)
			}
			// Updated through a symbolic link, as Bazel workspaces link
			// golden files kept elsewhere.
			link := filepath.Join(sub, "link-"+name)
			path := real
			if tc.content != "" {
				os.Symlink(name, link)
				path = link
			}
			old, written, err := UpdateGolden(path, tc.key, d3, desc)
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := filepath.EvalSymlinks(real); written != want {
				t.Errorf("wrote %s, want %s", written, want)
			}
			got, _ := os.ReadFile(real)
			if string(got) != tc.want || old != tc.old {
				t.Errorf("got old %s and\n%s\nwant old %s and\n%s", old, got, tc.old, tc.want)
			}
			if tc.content != "" {
				if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
					t.Errorf("the symbolic link was replaced")
				}
			}
		})
	}
}
