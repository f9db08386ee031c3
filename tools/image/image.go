// Package image assembles image configs, manifests and indexes from layer
// descriptors. It never reads layer bytes: everything it needs is in the
// descriptors and the base image's manifest and config, which is what lets
// Bazel compute an image digest without downloading layers.
package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/compat"
	"github.com/rules-repro/rules_repro/tools/epoch"
	"github.com/rules-repro/rules_repro/tools/oci"
)

// Layer is a layer added on top of the base.
type Layer struct {
	Descriptor *oci.LayerDescriptor
	// CreatedBy is the history text; defaults to the descriptor's
	// created_by, then to "rules_repro layer <digest>".
	CreatedBy string
}

// Config holds the config fields an image sets. A nil pointer or slice
// means "keep the base's value".
type Config struct {
	Entrypoint *[]string
	Cmd        *[]string
	// Env entries are "KEY=VALUE", applied in order over the base's
	// environment: an existing key is replaced in place, a new one is
	// appended. $KEY and ${KEY} in a value expand to the value so far ($$ is
	// a literal $), so PATH=$PATH:/app extends the base's PATH.
	Env          []string
	WorkingDir   *string
	User         *string
	Labels       map[string]string
	ExposedPorts []string
	Volumes      []string
	StopSignal   *string
}

// Options describe an image to assemble.
type Options struct {
	Version *compat.Version
	Epoch   int64
	// Base is the base image (nil: start from scratch).
	Base *oci.Image
	// BaseName is the base's reference, recorded as
	// org.opencontainers.image.base.name when set.
	BaseName string
	Layers   []Layer
	Config   Config
	// Platform is required without a base; with a base it must match it.
	Platform    *specs.Platform
	Annotations map[string]string
}

// Result is an assembled image.
type Result struct {
	Config     []byte
	Manifest   []byte
	Descriptor oci.ImageDescriptor
}

var portRE = regexp.MustCompile(`^([0-9]{1,5})(/(tcp|udp|sctp))?$`)

// Build assembles config and manifest.
func Build(o Options) (*Result, error) {
	v := o.Version
	cfg := map[string]any{}
	var baseLayers []specs.Descriptor
	if o.Base != nil {
		dec := json.NewDecoder(bytes.NewReader(o.Base.ConfigBytes))
		dec.UseNumber()
		if err := dec.Decode(&cfg); err != nil {
			return nil, fmt.Errorf("base config: %w", err)
		}
		baseLayers = o.Base.Manifest.Layers
	}
	// Platform.
	plat := o.Platform
	if o.Base != nil {
		bp := o.Base.Platform()
		if plat == nil {
			plat = bp
		} else if !oci.PlatformMatches(plat, bp) {
			return nil, fmt.Errorf("platform %s differs from the base image's platform %s", oci.PlatformString(plat), oci.PlatformString(bp))
		} else if plat.Variant == "" {
			plat.Variant = bp.Variant
		}
	}
	if plat == nil || plat.OS == "" || plat.Architecture == "" {
		return nil, fmt.Errorf("no platform: an image without a base needs one (for example linux/amd64)")
	}
	cfg["os"], cfg["architecture"] = plat.OS, plat.Architecture
	delete(cfg, "variant")
	if plat.Variant != "" {
		cfg["variant"] = plat.Variant
	}
	created := epoch.Format(o.Epoch)
	cfg["created"] = created

	// Runtime config.
	rc, _ := cfg["config"].(map[string]any)
	if rc == nil {
		rc = map[string]any{}
	}
	c := o.Config
	if c.Entrypoint != nil {
		rc["Entrypoint"] = strs(*c.Entrypoint)
		if c.Cmd == nil {
			// As in a Dockerfile: a new ENTRYPOINT resets the base's CMD.
			delete(rc, "Cmd")
		}
	}
	if c.Cmd != nil {
		rc["Cmd"] = strs(*c.Cmd)
	}
	if len(c.Env) > 0 {
		env, err := mergeEnv(anyStrings(rc["Env"]), c.Env)
		if err != nil {
			return nil, err
		}
		rc["Env"] = strs(env)
	}
	if c.WorkingDir != nil {
		rc["WorkingDir"] = *c.WorkingDir
	}
	if c.User != nil {
		rc["User"] = *c.User
	}
	if c.StopSignal != nil {
		rc["StopSignal"] = *c.StopSignal
	}
	if len(c.Labels) > 0 {
		labels, _ := rc["Labels"].(map[string]any)
		if labels == nil {
			labels = map[string]any{}
		}
		for k, val := range c.Labels {
			if k == "" {
				return nil, fmt.Errorf("empty label key")
			}
			labels[k] = val
		}
		rc["Labels"] = labels
	}
	if len(c.ExposedPorts) > 0 {
		ports, _ := rc["ExposedPorts"].(map[string]any)
		if ports == nil {
			ports = map[string]any{}
		}
		for _, p := range c.ExposedPorts {
			m := portRE.FindStringSubmatch(p)
			if m == nil {
				return nil, fmt.Errorf("invalid exposed port %q: want PORT or PORT/PROTOCOL (tcp, udp or sctp), for example 8080 or 53/udp", p)
			}
			key := m[1] + "/tcp"
			if m[3] != "" {
				key = m[1] + "/" + m[3]
			}
			ports[key] = map[string]any{}
		}
		rc["ExposedPorts"] = ports
	}
	if len(c.Volumes) > 0 {
		vols, _ := rc["Volumes"].(map[string]any)
		if vols == nil {
			vols = map[string]any{}
		}
		for _, vol := range c.Volumes {
			if !strings.HasPrefix(vol, "/") {
				return nil, fmt.Errorf("invalid volume %q: must be an absolute path", vol)
			}
			vols[vol] = map[string]any{}
		}
		rc["Volumes"] = vols
	}
	cfg["config"] = rc

	// History and rootfs.
	history, _ := cfg["history"].([]any)
	rootfs, _ := cfg["rootfs"].(map[string]any)
	var diffIDs []any
	if rootfs != nil {
		diffIDs, _ = rootfs["diff_ids"].([]any)
	}
	if len(diffIDs) != len(baseLayers) {
		return nil, fmt.Errorf("base config has %d diff_ids but the base manifest has %d layers", len(diffIDs), len(baseLayers))
	}
	layers := make([]specs.Descriptor, 0, len(baseLayers)+len(o.Layers))
	layersJSON := make([]any, 0, len(baseLayers)+len(o.Layers))
	if o.Base != nil {
		// Base layer descriptors are kept as written (urls, annotations and
		// all); only docker media types become their OCI equivalents.
		var raw struct {
			Layers []map[string]any `json:"layers"`
		}
		dec := json.NewDecoder(bytes.NewReader(o.Base.ManifestBytes))
		dec.UseNumber()
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("base manifest: %w", err)
		}
		for i, l := range baseLayers {
			l.MediaType = v.BaseLayerMediaType(l.MediaType)
			layers = append(layers, l)
			raw.Layers[i]["mediaType"] = l.MediaType
			layersJSON = append(layersJSON, raw.Layers[i])
		}
	}
	for i, l := range o.Layers {
		d := l.Descriptor
		if d.CompatibilityVersion != 0 && d.CompatibilityVersion != v.Number {
			return nil, fmt.Errorf("layer %d (%s) was encoded under compatibility version %d, the image is assembled under %d", i, d.Digest, d.CompatibilityVersion, v.Number)
		}
		if err := v.CheckLayerAnnotations(d.Annotations); err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", i, d.Digest, err)
		}
		history = append(history, v.HistoryEntry(created, v.CreatedBy(l.CreatedBy, d)))
		diffIDs = append(diffIDs, d.DiffID.String())
		layers = append(layers, specs.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, Annotations: d.Annotations})
		lj := descriptorJSON(d.MediaType, d.Digest, d.Size, nil)
		if len(d.Annotations) > 0 {
			lj["annotations"] = d.Annotations
		}
		layersJSON = append(layersJSON, lj)
	}
	if len(history) > 0 {
		cfg["history"] = history
	}
	cfg["rootfs"] = map[string]any{"type": "layers", "diff_ids": diffIDs}

	configBytes, err := v.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding config: %w", err)
	}
	configDesc := specs.Descriptor{MediaType: oci.MediaTypeImageConfig, Digest: digest.FromBytes(configBytes), Size: int64(len(configBytes))}

	ann := map[string]string{
		oci.AnnotationCreated: created,
		compat.AnnotationKey:  v.AnnotationValue(),
	}
	if o.Base != nil {
		ann[oci.AnnotationBaseDigest] = o.Base.Descriptor.Digest.String()
		if o.BaseName != "" {
			ann[oci.AnnotationBaseName] = o.BaseName
		}
	}
	for k, val := range o.Annotations {
		if k == "" {
			return nil, fmt.Errorf("empty annotation key")
		}
		ann[k] = val
	}
	manifest := map[string]any{
		"schemaVersion": 2,
		"mediaType":     oci.MediaTypeImageManifest,
		"config":        descriptorJSON(configDesc.MediaType, configDesc.Digest, configDesc.Size, nil),
		"layers":        layersJSON,
		"annotations":   ann,
	}
	manifestBytes, err := v.Marshal(manifest)
	if err != nil {
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	return &Result{
		Config:   configBytes,
		Manifest: manifestBytes,
		Descriptor: oci.ImageDescriptor{
			MediaType:            oci.MediaTypeImageManifest,
			Digest:               digest.FromBytes(manifestBytes),
			Size:                 int64(len(manifestBytes)),
			Platform:             plat,
			Config:               &configDesc,
			Layers:               layers,
			CompatibilityVersion: v.Number,
		},
	}, nil
}

// IndexOptions describe an image index.
type IndexOptions struct {
	Version     *compat.Version
	Epoch       int64
	Images      []*oci.ImageDescriptor
	Annotations map[string]string
}

// IndexResult is an assembled index.
type IndexResult struct {
	Index      []byte
	Descriptor oci.ImageDescriptor
}

// BuildIndex assembles a multi-platform index over images, in the order
// given. Two images for the same platform are an error.
func BuildIndex(o IndexOptions) (*IndexResult, error) {
	if len(o.Images) == 0 {
		return nil, fmt.Errorf("an index needs at least one image")
	}
	v := o.Version
	seen := map[string]digest.Digest{}
	manifests := make([]specs.Descriptor, 0, len(o.Images))
	manifestsJSON := make([]any, 0, len(o.Images))
	for i, img := range o.Images {
		if !oci.IsManifest(img.MediaType) {
			return nil, fmt.Errorf("image %d (%s) is not an image manifest but %s; nested indexes are not supported", i, img.Digest, img.MediaType)
		}
		if img.Platform == nil || img.Platform.OS == "" || img.Platform.Architecture == "" {
			return nil, fmt.Errorf("image %d (%s) has no platform", i, img.Digest)
		}
		if img.CompatibilityVersion != 0 && img.CompatibilityVersion != v.Number {
			return nil, fmt.Errorf("image %d (%s) was assembled under compatibility version %d, the index under %d", i, img.Digest, img.CompatibilityVersion, v.Number)
		}
		ps := oci.PlatformString(img.Platform)
		if prev, dup := seen[ps]; dup {
			return nil, fmt.Errorf("images %s and %s are both for platform %s", prev, img.Digest, ps)
		}
		seen[ps] = img.Digest
		p := *img.Platform
		manifests = append(manifests, specs.Descriptor{MediaType: img.MediaType, Digest: img.Digest, Size: img.Size, Platform: &p})
		manifestsJSON = append(manifestsJSON, descriptorJSON(img.MediaType, img.Digest, img.Size, &p))
	}
	ann := map[string]string{
		oci.AnnotationCreated: epoch.Format(o.Epoch),
		compat.AnnotationKey:  v.AnnotationValue(),
	}
	for k, val := range o.Annotations {
		if k == "" {
			return nil, fmt.Errorf("empty annotation key")
		}
		ann[k] = val
	}
	data, err := v.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     oci.MediaTypeImageIndex,
		"manifests":     manifestsJSON,
		"annotations":   ann,
	})
	if err != nil {
		return nil, err
	}
	return &IndexResult{
		Index: data,
		Descriptor: oci.ImageDescriptor{
			MediaType:            oci.MediaTypeImageIndex,
			Digest:               digest.FromBytes(data),
			Size:                 int64(len(data)),
			Manifests:            manifests,
			CompatibilityVersion: v.Number,
		},
	}, nil
}

func strs(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

var envKeyRE = regexp.MustCompile(`^[^=\x00]+$`)

// mergeEnv applies KEY=VALUE assignments over base, expanding $KEY,
// ${KEY} and $$ in values against the environment so far.
func mergeEnv(base, set []string) ([]string, error) {
	env := append([]string(nil), base...)
	lookup := func(k string) (string, int) {
		for i, e := range env {
			if key, val, _ := strings.Cut(e, "="); key == k {
				return val, i
			}
		}
		return "", -1
	}
	for _, s := range set {
		k, val, ok := strings.Cut(s, "=")
		if !ok || !envKeyRE.MatchString(k) {
			return nil, fmt.Errorf("invalid env entry %q: want KEY=VALUE", s)
		}
		expanded, err := expand(val, func(name string) string { v, _ := lookup(name); return v })
		if err != nil {
			return nil, fmt.Errorf("env %s: %v", k, err)
		}
		if _, i := lookup(k); i >= 0 {
			env[i] = k + "=" + expanded
		} else {
			env = append(env, k+"="+expanded)
		}
	}
	return env, nil
}

func expand(s string, get func(string) string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("value %q ends with a lone $ (write $$ for a literal $)", s)
		}
		switch c := s[i+1]; {
		case c == '$':
			b.WriteByte('$')
			i++
		case c == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("value %q has an unterminated ${", s)
			}
			b.WriteString(get(s[i+2 : i+2+end]))
			i += 2 + end
		case c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			b.WriteString(get(s[i+1 : j]))
			i = j - 1
		default:
			return "", fmt.Errorf("value %q has a $ not followed by a name (write $$ for a literal $)", s)
		}
	}
	return b.String(), nil
}

// descriptorJSON is the JSON form of a descriptor that compatibility
// version 1 writes. It is built field by field, so that a new field in
// image-spec's Go types cannot change a digest.
func descriptorJSON(mediaType string, d digest.Digest, size int64, p *specs.Platform) map[string]any {
	m := map[string]any{"mediaType": mediaType, "digest": d.String(), "size": size}
	if p != nil {
		pm := map[string]any{"os": p.OS, "architecture": p.Architecture}
		if p.Variant != "" {
			pm["variant"] = p.Variant
		}
		if p.OSVersion != "" {
			pm["os.version"] = p.OSVersion
		}
		if len(p.OSFeatures) > 0 {
			pm["os.features"] = strs(p.OSFeatures)
		}
		m["platform"] = pm
	}
	return m
}
