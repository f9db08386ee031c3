package layer

import (
	"archive/tar"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// distTar writes a tar as a build tool makes it: everything under "dist/",
// with the tool's own owners and modes.
func distTar(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dist.tar.gz")
	writeTarFile(t, p, "gzip", []*tar.Header{
		{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "./dist/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 501, Gid: 20},
		{Name: "./dist/bin/app", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 501, Gid: 20, Uname: "dev", Gname: "staff", ModTime: time.Unix(50, 0)},
		{Name: "./dist/bin/app2", Typeflag: tar.TypeLink, Linkname: "./dist/bin/app"},
		{Name: "./dist/share/data/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 501, Gid: 20},
		{Name: "./dist/share/data/x.txt", Typeflag: tar.TypeReg, Mode: 0o600, Uid: 501, Gid: 20},
	}, map[string]string{"./dist/bin/app": "#!app", "./dist/share/data/x.txt": "x"})
	return p
}

func TestInputTarStripPrefixAndOverrides(t *testing.T) {
	src := distTar(t)
	tree := NewTree(Options{Epoch: 1000})
	defer tree.Close()
	spec := &Spec{
		Entries: []Entry{{Type: "tar", Source: src, Path: "/srv/app", StripPrefix: "./dist/"}},
		Overrides: []Override{
			{Path: "/srv/app/bin/app", Mode: "0755", UID: num(0), GID: num(0)},
			{Path: "/srv/app/share/data", Mode: "0750", UID: num(1000), GID: num(1000), Uname: "app", Gname: "app"},
			{Path: "/srv/app/share/data/x.txt", UID: num(1000), GID: num(1000)},
			// A parent only implied by the tar becomes a directory.
			{Path: "/srv/app/share", Mode: "0711"},
		},
	}
	if err := tree.AddSpec(spec, "spec.json"); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if _, err := tree.WriteTar(&b); err != nil {
		t.Fatal(err)
	}
	hs := readTar(t, []byte(b.String()))
	want := "srv/ srv/app/ srv/app/bin/ srv/app/bin/app srv/app/bin/app2 srv/app/share/ srv/app/share/data/ srv/app/share/data/x.txt"
	if got := names(hs); got != want {
		t.Fatalf("names: got %s\nwant %s", got, want)
	}
	got := map[string]string{}
	for _, h := range hs {
		got[h.name] = h.String()
	}
	for name, w := range map[string]string{
		"srv/app/bin/app":          `reg srv/app/bin/app 0755 0:0 t=50 size=5 link=""`,
		"srv/app/bin/app2":         `link srv/app/bin/app2 0755 0:0 t=50 size=0 link="srv/app/bin/app"`,
		"srv/app/share/":           `dir srv/app/share/ 0711 0:0 t=1000 size=0 link=""`,
		"srv/app/share/data/":      `dir srv/app/share/data/ 0750 1000:1000 t=0 size=0 link=""`,
		"srv/app/share/data/x.txt": `reg srv/app/share/data/x.txt 0600 1000:1000 t=0 size=1 link=""`,
	} {
		if got[name] != w {
			t.Errorf("%s:\n got %s\nwant %s", name, got[name], w)
		}
	}
	// An owner override replaces the tar's owner names too.
	tr := tar.NewReader(strings.NewReader(b.String()))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		switch h.Name {
		case "srv/app/bin/app":
			if h.Uname != "" || h.Gname != "" {
				t.Errorf("%s keeps the tar's owner names %q:%q", h.Name, h.Uname, h.Gname)
			}
		case "srv/app/share/data/":
			if h.Uname != "app" || h.Gname != "app" {
				t.Errorf("%s has owner names %q:%q, want app:app", h.Name, h.Uname, h.Gname)
			}
		}
	}
}

// Misuse of strip_prefix and overrides fails, naming the member or path.
func TestInputTarStripPrefixErrors(t *testing.T) {
	src := distTar(t)
	outside := filepath.Join(t.TempDir(), "outside.tar")
	writeTarFile(t, outside, "none", []*tar.Header{
		{Name: "dist/a", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "README", Typeflag: tar.TypeReg, Mode: 0o644},
	}, map[string]string{"dist/a": "a", "README": "r"})
	fileAsPrefix := filepath.Join(t.TempDir(), "file.tar")
	writeTarFile(t, fileAsPrefix, "none", []*tar.Header{{Name: "dist", Typeflag: tar.TypeReg, Mode: 0o644}}, nil)
	cases := []struct {
		name string
		spec Spec
		want string
	}{
		{"member outside", Spec{Entries: []Entry{{Type: "tar", Source: outside, StripPrefix: "dist"}}}, `member "README": not under strip_prefix "dist"`},
		{"prefix is a file", Spec{Entries: []Entry{{Type: "tar", Source: fileAsPrefix, StripPrefix: "dist"}}}, `a regular file where strip_prefix "dist" needs a directory`},
		{"escaping prefix", Spec{Entries: []Entry{{Type: "tar", Source: src, StripPrefix: "../x"}}}, "strip_prefix: "},
		{"strip_prefix on a file", Spec{Entries: []Entry{{Type: "file", Path: "/a", Content: str(""), StripPrefix: "x"}}}, `field "strip_prefix" is not allowed on a file entry`},
		{"unknown path", Spec{Entries: []Entry{{Type: "tar", Source: src}}, Overrides: []Override{{Path: "/nothing", Mode: "0700"}}}, `overrides[0] ("/nothing"): no entry of the layer`},
		{"hard link", Spec{Entries: []Entry{{Type: "tar", Source: src}}, Overrides: []Override{{Path: "/dist/bin/app2", Mode: "0700"}}}, `a hard link (`},
		{"uid alone", Spec{Entries: []Entry{{Type: "tar", Source: src}}, Overrides: []Override{{Path: "/dist/bin/app", UID: num(1)}}}, "give uid and gid together"},
		{"bad mode", Spec{Entries: []Entry{{Type: "tar", Source: src}}, Overrides: []Override{{Path: "/dist/bin/app", Mode: "rwx"}}}, "invalid mode"},
		{"nothing", Spec{Entries: []Entry{{Type: "tar", Source: src}}, Overrides: []Override{{Path: "/dist/bin/app"}}}, "nothing to override"},
		{"whiteout", Spec{Entries: []Entry{{Type: "whiteout", Path: "/etc/x"}}, Overrides: []Override{{Path: "/etc/x", Mode: "0700"}}}, "a whiteout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tree := NewTree(Options{})
			defer tree.Close()
			err := tree.AddSpec(&c.spec, "spec.json")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to say %q", err, c.want)
			}
		})
	}
}
