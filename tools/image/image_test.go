package image

import (
	"encoding/json"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/compat"
	"github.com/rules-repro/rules_repro/tools/oci"
)

func v1(t *testing.T) *compat.Version {
	v, err := compat.Lookup(0)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func layerDesc(seed string) *oci.LayerDescriptor {
	return &oci.LayerDescriptor{MediaType: oci.MediaTypeLayerGzip, Digest: digest.FromString(seed), Size: 10, DiffID: digest.FromString("diff" + seed), CompatibilityVersion: 1}
}

// base returns a docker-style base image with config fields to merge into.
func base(t *testing.T) *oci.Image {
	cfg := `{"architecture":"arm64","variant":"v8","os":"linux","created":"2020-01-01T00:00:00Z",` +
		`"config":{"Env":["PATH=/usr/bin","LANG=C"],"Cmd":["sh"],"Labels":{"base":"yes"},"ExposedPorts":{"22/tcp":{}},"Shell":["/bin/sh","-c"]},` +
		`"history":[{"created":"2020-01-01T00:00:00Z","created_by":"ADD rootfs","comment":"kept as is"}],` +
		`"rootfs":{"type":"layers","diff_ids":["` + digest.FromString("basediff").String() + `"]},"docker_version":"20.10"}`
	man := `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",` +
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"` + digest.FromString(cfg).String() + `","size":` + itoa(len(cfg)) + `},` +
		`"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"` + digest.FromString("baselayer").String() + `","size":1234,"annotations":{"x":"y"}}]}`
	img, err := oci.ParseImage(specs.Descriptor{MediaType: oci.DockerManifest, Digest: digest.FromString(man), Size: int64(len(man))}, []byte(man), []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestBuildMergesBase(t *testing.T) {
	ep := []string{"/app"}
	res, err := Build(Options{
		Version: v1(t), Epoch: 1700000000, Base: base(t), BaseName: "docker.io/library/busybox:1",
		Layers: []Layer{{Descriptor: layerDesc("a"), CreatedBy: "//app:layer"}},
		Config: Config{Entrypoint: &ep, Env: []string{"PATH=/app:$PATH", "NEW=${LANG}-x", "LIT=$$HOME"}, Labels: map[string]string{"app": "1"}, ExposedPorts: []string{"8080"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	json.Unmarshal(res.Config, &cfg)
	rc := cfg["config"].(map[string]any)
	if got := rc["Env"]; strings.Join(toStrings(got), " ") != "PATH=/app:/usr/bin LANG=C NEW=C-x LIT=$HOME" {
		t.Errorf("env %v", got)
	}
	if _, ok := rc["Cmd"]; ok {
		t.Errorf("a new entrypoint should reset the base's cmd, as in a Dockerfile")
	}
	if rc["Shell"] == nil || cfg["docker_version"] != "20.10" {
		t.Errorf("unknown base fields must be kept: %v", cfg)
	}
	if l := rc["Labels"].(map[string]any); l["base"] != "yes" || l["app"] != "1" {
		t.Errorf("labels %v", l)
	}
	if p := rc["ExposedPorts"].(map[string]any); len(p) != 2 || p["8080/tcp"] == nil {
		t.Errorf("ports %v", p)
	}
	if cfg["architecture"] != "arm64" || cfg["variant"] != "v8" || cfg["created"] != "2023-11-14T22:13:20Z" {
		t.Errorf("platform/created: %v %v %v", cfg["architecture"], cfg["variant"], cfg["created"])
	}
	h := cfg["history"].([]any)
	if len(h) != 2 || h[0].(map[string]any)["comment"] != "kept as is" || h[1].(map[string]any)["created_by"] != "//app:layer" {
		t.Errorf("history %v", h)
	}
	var man map[string]any
	json.Unmarshal(res.Manifest, &man)
	layers := man["layers"].([]any)
	if l0 := layers[0].(map[string]any); l0["mediaType"] != oci.MediaTypeLayerGzip || l0["annotations"].(map[string]any)["x"] != "y" {
		t.Errorf("base layer descriptor should be kept with an OCI media type: %v", l0)
	}
	ann := man["annotations"].(map[string]any)
	if ann[oci.AnnotationBaseName] != "docker.io/library/busybox:1" || ann[oci.AnnotationBaseDigest] == nil || ann[compat.AnnotationKey] != "1" || ann[oci.AnnotationCreated] != "2023-11-14T22:13:20Z" {
		t.Errorf("annotations %v", ann)
	}
	// Canonical JSON: keys sorted, no whitespace.
	if !strings.HasPrefix(string(res.Manifest), `{"annotations":{`) || strings.Contains(string(res.Config), " :") {
		t.Errorf("not canonical: %s", res.Manifest)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestBuildErrors(t *testing.T) {
	bad := []struct {
		name string
		o    Options
		want string
	}{
		{"no platform", Options{Layers: []Layer{{Descriptor: layerDesc("a")}}}, "no platform"},
		{"platform mismatch", Options{Base: base(t), Platform: &specs.Platform{OS: "linux", Architecture: "amd64"}}, "differs from the base image's platform linux/arm64/v8"},
		{"bad port", Options{Platform: &specs.Platform{OS: "linux", Architecture: "amd64"}, Config: Config{ExposedPorts: []string{"80/icmp"}}}, `"80/icmp"`},
		{"relative volume", Options{Platform: &specs.Platform{OS: "linux", Architecture: "amd64"}, Config: Config{Volumes: []string{"data"}}}, `"data"`},
		{"bad env", Options{Platform: &specs.Platform{OS: "linux", Architecture: "amd64"}, Config: Config{Env: []string{"NOEQUALS"}}}, `"NOEQUALS"`},
		{"lone dollar", Options{Platform: &specs.Platform{OS: "linux", Architecture: "amd64"}, Config: Config{Env: []string{"A=x$"}}}, "lone $"},
		{"layer from another version", Options{Platform: &specs.Platform{OS: "linux", Architecture: "amd64"}, Layers: []Layer{{Descriptor: &oci.LayerDescriptor{Digest: digest.FromString("x"), DiffID: digest.FromString("y"), CompatibilityVersion: 9}}}}, "compatibility version 9"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			c.o.Version = v1(t)
			_, err := Build(c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}

func TestIndex(t *testing.T) {
	mk := func(arch string) *oci.ImageDescriptor {
		res, err := Build(Options{Version: v1(t), Platform: &specs.Platform{OS: "linux", Architecture: arch}, Layers: []Layer{{Descriptor: layerDesc(arch)}}})
		if err != nil {
			t.Fatal(err)
		}
		return &res.Descriptor
	}
	amd, arm := mk("amd64"), mk("arm64")
	res, err := BuildIndex(IndexOptions{Version: v1(t), Epoch: 1700000000, Images: []*oci.ImageDescriptor{amd, arm}})
	if err != nil {
		t.Fatal(err)
	}
	var idx specs.Index
	json.Unmarshal(res.Index, &idx)
	if len(idx.Manifests) != 2 || idx.Manifests[1].Platform.Architecture != "arm64" || idx.Annotations[oci.AnnotationCreated] != "2023-11-14T22:13:20Z" {
		t.Errorf("index %s", res.Index)
	}
	if _, err := BuildIndex(IndexOptions{Version: v1(t), Images: []*oci.ImageDescriptor{amd, mk("amd64")}}); err == nil || !strings.Contains(err.Error(), "both for platform linux/amd64") {
		t.Errorf("duplicate platforms: %v", err)
	}
	if _, err := BuildIndex(IndexOptions{Version: v1(t)}); err == nil {
		t.Error("empty index accepted")
	}
}
