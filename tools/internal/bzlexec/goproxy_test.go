package bzlexec

import (
	"reflect"
	"testing"

	"go.starlark.net/starlark"
)

// TestGoProxyURLs runs the public GOPROXY helper (rules/goproxy.bzl, used
// by the helper's toolchain repository and by the example's rules_go and
// Gazelle fetch) on the forms GOPROXY takes.
func TestGoProxyURLs(t *testing.T) {
	w := newWorld(t)
	urls := w.global("rules/goproxy.bzl", "go_module_zip_urls")
	proxy := w.global("rules/goproxy.bzl", "go_proxy")
	environ := func(goproxy *string) *starlark.Dict {
		d := starlark.NewDict(2)
		d.SetKey(starlark.String("HOME"), starlark.String("/home/u"))
		if goproxy != nil {
			d.SetKey(starlark.String("GOPROXY"), starlark.String(*goproxy))
		}
		return d
	}
	s := func(v string) *string { return &v }
	const rg = "github.com/bazelbuild/rules_go/@v/v0.34.0.zip"
	for _, c := range []struct {
		goproxy         *string
		module, version string
		want            []string
		proxy           string
	}{
		{nil, "github.com/bazelbuild/rules_go", "v0.34.0", []string{"https://proxy.golang.org/" + rg}, "https://proxy.golang.org"},
		{s(""), "github.com/bazelbuild/rules_go", "v0.34.0", []string{"https://proxy.golang.org/" + rg}, "https://proxy.golang.org"},
		{s("http://127.0.0.1:3000,direct"), "github.com/bazelbuild/rules_go", "v0.34.0", []string{"http://127.0.0.1:3000/" + rg}, "http://127.0.0.1:3000,direct"},
		{s(" proxy.example.com/go/ | https://b.example ,off"), "github.com/bazelbuild/rules_go", "v0.34.0",
			[]string{"https://proxy.example.com/go/" + rg, "https://b.example/" + rg}, " proxy.example.com/go/ | https://b.example ,off"},
		{s("file:///srv/goproxy"), "golang.org/toolchain", "v0.0.1-go1.26.8.linux-amd64",
			[]string{"file:///srv/goproxy/golang.org/toolchain/@v/v0.0.1-go1.26.8.linux-amd64.zip"}, "file:///srv/goproxy"},
		// Nothing usable: the public proxy, so the repository cache or
		// --distdir can still serve the zip by sha256.
		{s("off"), "github.com/bazelbuild/rules_go", "v0.34.0", []string{"https://proxy.golang.org/" + rg}, "off"},
		{s("direct"), "github.com/bazelbuild/rules_go", "v0.34.0", []string{"https://proxy.golang.org/" + rg}, "direct"},
		// Upper case is escaped as the proxy protocol says, in path and version.
		{nil, "github.com/Azure/azure-sdk-for-go", "v1.0.0-RC1", []string{"https://proxy.golang.org/github.com/!azure/azure-sdk-for-go/@v/v1.0.0-!r!c1.zip"}, "https://proxy.golang.org"},
	} {
		v, err := w.call(urls, starlark.Tuple{environ(c.goproxy), starlark.String(c.module), starlark.String(c.version)})
		if err != nil {
			t.Fatalf("go_module_zip_urls: %s", describe(err))
		}
		var got []string
		for u := range v.(*starlark.List).Elements() {
			got = append(got, string(u.(starlark.String)))
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("GOPROXY=%v %s@%s:\n got %q\nwant %q", c.goproxy, c.module, c.version, got, c.want)
		}
		p, err := w.call(proxy, starlark.Tuple{environ(c.goproxy)})
		if err != nil {
			t.Fatalf("go_proxy: %s", describe(err))
		}
		if string(p.(starlark.String)) != c.proxy {
			t.Errorf("go_proxy(GOPROXY=%v) = %s, want %q", c.goproxy, p, c.proxy)
		}
	}
}

// TestGoFetchEnvVars: the variables the helper's build and the example's
// `go mod vendor` take from the user's environment; every call gives a new
// list (callers append their own).
func TestGoFetchEnvVars(t *testing.T) {
	w := newWorld(t)
	fn := w.global("rules/goproxy.bzl", "go_fetch_env_vars")
	var first *starlark.List
	for range 2 {
		v, err := w.call(fn, nil)
		if err != nil {
			t.Fatalf("go_fetch_env_vars: %s", describe(err))
		}
		l := v.(*starlark.List)
		if l == first {
			t.Fatal("go_fetch_env_vars returned the same list twice")
		}
		first = l
		have := map[string]bool{}
		for u := range l.Elements() {
			have[string(u.(starlark.String))] = true
		}
		for _, want := range []string{"GOPROXY", "GONOSUMDB", "GOSUMDB", "GOPRIVATE", "NETRC", "HTTPS_PROXY", "SSL_CERT_FILE", "HOME", "PATH"} {
			if !have[want] {
				t.Errorf("go_fetch_env_vars lacks %s", want)
			}
		}
		for _, never := range []string{"GOFLAGS", "GOAMD64", "GOEXPERIMENT", "GOROOT", "GOOS", "GOARCH", "CGO_ENABLED", "GOTOOLCHAIN"} {
			if have[never] {
				t.Errorf("go_fetch_env_vars passes %s, which changes what go builds", never)
			}
		}
		if err := l.Append(starlark.String("GOMODCACHE")); err != nil {
			t.Errorf("a caller cannot add its own variables: %v", err)
		}
	}
}
