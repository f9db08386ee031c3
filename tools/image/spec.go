package image

import (
	"bytes"
	"encoding/json"
	"fmt"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/safejson"
)

// Spec is the JSON form of an image to assemble, as the Bazel rules write
// it. Absent fields keep the base's values; an empty list clears them.
//
//	{
//	  "base": {"layout": "path/to/layout", "platform": "linux/amd64"},
//	  "layers": [{"descriptor": "bazel-out/.../layer.json", "created_by": "//app:layer"}],
//	  "entrypoint": ["/app/server"],
//	  "cmd": ["--port=8080"],
//	  "env": ["PATH=$PATH:/app"],
//	  "workdir": "/app",
//	  "user": "1000:1000",
//	  "labels": {"org.example.team": "infra"},
//	  "exposed_ports": ["8080/tcp"],
//	  "volumes": ["/data"],
//	  "stop_signal": "SIGTERM",
//	  "annotations": {"org.opencontainers.image.source": "https://example.com/repo"},
//	  "platform": "linux/amd64"
//	}
type Spec struct {
	Base         *BaseSpec         `json:"base,omitempty"`
	Layers       []LayerSpec       `json:"layers,omitempty"`
	Entrypoint   *[]string         `json:"entrypoint,omitempty"`
	Cmd          *[]string         `json:"cmd,omitempty"`
	Env          []string          `json:"env,omitempty"`
	Workdir      *string           `json:"workdir,omitempty"`
	User         *string           `json:"user,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	ExposedPorts []string          `json:"exposed_ports,omitempty"`
	Volumes      []string          `json:"volumes,omitempty"`
	StopSignal   *string           `json:"stop_signal,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Platform     string            `json:"platform,omitempty"`
}

// BaseSpec names the base image: an OCI layout directory, or the manifest
// and config files of a pinned base (blobs are not needed to assemble).
type BaseSpec struct {
	Layout   string `json:"layout,omitempty"`
	Platform string `json:"platform,omitempty"`
	Ref      string `json:"ref,omitempty"`
	Manifest string `json:"manifest,omitempty"`
	Config   string `json:"config,omitempty"`
	// Name is the base's reference, recorded as
	// org.opencontainers.image.base.name.
	Name string `json:"name,omitempty"`
}

// LayerSpec is a layer to add.
type LayerSpec struct {
	Descriptor string `json:"descriptor"`
	CreatedBy  string `json:"created_by,omitempty"`
}

// MaxSpecSize bounds an image spec file.
const MaxSpecSize = oci.MaxManifestSize

// ReadSpec reads an image spec file (at most MaxSpecSize bytes, nested no
// deeper than safejson.MaxDepth).
func ReadSpec(path string) (*Spec, error) {
	data, err := oci.ReadFileLimited(path, MaxSpecSize)
	if err != nil {
		return nil, fmt.Errorf("reading image spec: %w", err)
	}
	if err := safejson.CheckDepth(data); err != nil {
		return nil, fmt.Errorf("image spec %s: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("image spec %s: %w", path, err)
	}
	return &s, nil
}

// LoadBase reads the base image a BaseSpec names.
func LoadBase(b *BaseSpec) (*oci.Image, error) {
	var plat *specs.Platform
	if b.Platform != "" {
		p, err := oci.ParsePlatform(b.Platform)
		if err != nil {
			return nil, fmt.Errorf("base platform: %w", err)
		}
		plat = p
	}
	switch {
	case b.Layout != "" && (b.Manifest != "" || b.Config != ""):
		return nil, fmt.Errorf("base: give a layout or a manifest and config, not both")
	case b.Layout != "":
		return oci.ReadLayoutImage(b.Layout, plat, b.Ref)
	case b.Manifest != "" && b.Config != "":
		m, err := oci.ReadFileLimited(b.Manifest, oci.MaxManifestSize)
		if err != nil {
			return nil, fmt.Errorf("base manifest: %w", err)
		}
		c, err := oci.ReadFileLimited(b.Config, oci.MaxConfigSize)
		if err != nil {
			return nil, fmt.Errorf("base config: %w", err)
		}
		var mt struct {
			MediaType string `json:"mediaType"`
		}
		if err := safejson.Unmarshal(m, &mt); err != nil {
			return nil, fmt.Errorf("base manifest %s: %w", b.Manifest, err)
		}
		desc := specs.Descriptor{MediaType: mt.MediaType, Digest: digest.FromBytes(m), Size: int64(len(m))}
		img, err := oci.ParseImage(desc, m, c)
		if err != nil {
			return nil, fmt.Errorf("base %s: %w", b.Manifest, err)
		}
		if plat != nil && !oci.PlatformMatches(plat, img.Platform()) {
			return nil, fmt.Errorf("base %s is for %s, not %s", b.Manifest, oci.PlatformString(img.Platform()), oci.PlatformString(plat))
		}
		return img, nil
	}
	return nil, fmt.Errorf("base: give a layout directory, or both a manifest and a config file")
}

// Options turns the spec into assembly options (reading the base and the
// layer descriptors it names).
func (s *Spec) Options() (Options, error) {
	var o Options
	if s.Base != nil {
		img, err := LoadBase(s.Base)
		if err != nil {
			return o, err
		}
		o.Base, o.BaseName = img, s.Base.Name
	}
	for i, l := range s.Layers {
		if l.Descriptor == "" {
			return o, fmt.Errorf("layers[%d]: missing descriptor", i)
		}
		d, err := oci.ReadLayerDescriptor(l.Descriptor)
		if err != nil {
			return o, fmt.Errorf("layers[%d]: %w", i, err)
		}
		o.Layers = append(o.Layers, Layer{Descriptor: d, CreatedBy: l.CreatedBy})
	}
	if s.Platform != "" {
		p, err := oci.ParsePlatform(s.Platform)
		if err != nil {
			return o, err
		}
		o.Platform = p
	}
	o.Config = Config{
		Entrypoint:   s.Entrypoint,
		Cmd:          s.Cmd,
		Env:          s.Env,
		WorkingDir:   s.Workdir,
		User:         s.User,
		Labels:       s.Labels,
		ExposedPorts: s.ExposedPorts,
		Volumes:      s.Volumes,
		StopSignal:   s.StopSignal,
	}
	o.Annotations = s.Annotations
	return o, nil
}
