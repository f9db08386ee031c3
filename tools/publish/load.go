package publish

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/registry"
)

// Engines Load can use.
const (
	EngineAuto   = "auto"
	EngineDocker = "docker"
	EnginePodman = "podman"
)

// LoadOptions say what to load into which engine.
type LoadOptions struct {
	// Image is the image manifest to load (an index's platform already
	// chosen).
	Image specs.Descriptor
	// Blobs holds its manifest, config and the layers the build has.
	Blobs *oci.BlobSet
	// Encoding writes the `docker load` archive (the compatibility
	// version's, compat.Version.Archive).
	Encoding oci.Encoding
	// Engine is EngineAuto (docker when `docker info` succeeds, else
	// podman), EngineDocker or EnginePodman.
	Engine string
	// Tags are given to the loaded image ("example.com/app:dev").
	Tags []string
	// Log receives what Load decides and the engine's messages; nil
	// discards them.
	Log io.Writer
}

// LoadResult says what Load did.
type LoadResult struct {
	// Engine is the engine used, and Why it was chosen.
	Engine, Why string
	// ID is the image ID the engine reports, "sha256:<config digest>".
	ID string
	// Config and Manifest are the digests we built.
	Config, Manifest digest.Digest
	// Tags are the tags the loaded image has (normalized).
	Tags []string
	// Elapsed is the time the engine took to load the stream.
	Elapsed time.Duration
}

// RegistrySource is an oci.BlobSource reading from registry repositories,
// for blobs of an image whose build did not download them.
type RegistrySource struct {
	ctx    context.Context
	client *registry.Client
	repo   string
	conn   *registry.Repo
	// Fetched counts the bytes handed out (after verification by the
	// consumer).
	Fetched int64
}

// NewRegistrySource returns a source of blobs from repository repo.
func NewRegistrySource(ctx context.Context, c *registry.Client, repo string) (*RegistrySource, error) {
	full, err := c.ParseRepository(repo)
	if err != nil {
		return nil, err
	}
	return &RegistrySource{ctx: ctx, client: c, repo: full}, nil
}

// OpenBlob implements oci.BlobSource: a verified, resuming stream.
func (s *RegistrySource) OpenBlob(d digest.Digest) (io.ReadCloser, string, error) {
	if s.conn == nil {
		conn, err := s.client.OpenRepo(s.ctx, s.repo, registry.RepoOptions{})
		if err != nil {
			return nil, s.repo, err
		}
		s.conn = conn
	}
	r, err := s.conn.OpenBlob(s.ctx, d, -1)
	if errors.Is(err, registry.ErrNotFound) {
		return nil, s.repo, fmt.Errorf("%w: %v", oci.ErrBlobNotFound, err)
	}
	if err != nil {
		return nil, s.repo, err
	}
	return &countingReader{r: r, n: &s.Fetched}, s.repo, nil
}

type countingReader struct {
	r io.ReadCloser
	n *int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }

// NormalizeTag checks a tag for `docker load` and adds ":latest" when it
// has no tag part ("example.com/app" → "example.com/app:latest").
func NormalizeTag(t string) (string, error) {
	if strings.Contains(t, "@") {
		return "", fmt.Errorf("--tag %q: a loaded image is named REPOSITORY[:TAG], without a digest", t)
	}
	ref, err := name.NewTag(t)
	if err != nil {
		return "", fmt.Errorf("--tag %q: %v", t, err)
	}
	if !strings.Contains(t[strings.LastIndex(t, "/")+1:], ":") {
		return t + ":" + ref.TagStr(), nil
	}
	return t, nil
}

// ChooseEngine picks the engine: want when it is docker or podman (which
// must be installed), else docker when `docker info` succeeds, else
// podman. It says why, and explains when neither works.
func ChooseEngine(ctx context.Context, want string) (engine, why string, err error) {
	switch want {
	case EngineDocker, EnginePodman:
		if _, err := exec.LookPath(want); err != nil {
			return "", "", fmt.Errorf("--engine %s: %s is not installed (not on PATH)", want, want)
		}
		return want, "--engine " + want, nil
	case "", EngineAuto:
	default:
		return "", "", fmt.Errorf("--engine %q: want auto, docker or podman", want)
	}
	var dockerWhy string
	if _, err := exec.LookPath(EngineDocker); err != nil {
		dockerWhy = "docker is not installed"
	} else {
		ictx, cancel := context.WithTimeout(ctx, 20*time.Second)
		out, err := exec.CommandContext(ictx, EngineDocker, "info", "--format", "{{.ServerVersion}}").CombinedOutput()
		cancel()
		if err == nil {
			return EngineDocker, "`docker info` succeeded", nil
		}
		dockerWhy = "`docker info` failed: " + firstLine(out, err)
	}
	if _, err := exec.LookPath(EnginePodman); err != nil {
		return "", "", fmt.Errorf("no container engine to load into: %s, and podman is not installed; start the docker daemon or install podman (or pass --engine)", dockerWhy)
	}
	return EnginePodman, dockerWhy, nil
}

func firstLine(out []byte, err error) string {
	s := strings.TrimSpace(string(out))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return err.Error()
	}
	return s
}

// Load streams a `docker load` archive of o.Image into the engine, tags
// the image, and checks that the engine's image ID is the config digest.
func Load(ctx context.Context, o LoadOptions) (*LoadResult, error) {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	if !oci.IsManifest(o.Image.MediaType) {
		return nil, fmt.Errorf("%s is not an image manifest (%s); choose a platform of an index first", o.Image.Digest, o.Image.MediaType)
	}
	m, err := o.Blobs.Manifest(o.Image.Digest)
	if err != nil {
		return nil, err
	}
	var tags []string
	for _, t := range o.Tags {
		nt, err := NormalizeTag(t)
		if err != nil {
			return nil, err
		}
		tags = append(tags, nt)
	}
	engine, why, err := ChooseEngine(ctx, o.Engine)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "loading %s (config %s) into %s (%s)\n", o.Image.Digest, m.Config.Digest, engine, why)
	res := &LoadResult{Engine: engine, Why: why, Config: m.Config.Digest, Manifest: o.Image.Digest}

	// Stream the archive into `ENGINE load`.
	start := time.Now()
	pr, pw := io.Pipe()
	cmd := exec.CommandContext(ctx, engine, "load")
	cmd.Stdin = pr
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("running %s load: %w", engine, err)
	}
	werr := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(pw, 1<<20)
		err := oci.WriteArchive(w, o.Image, o.Blobs, o.Encoding, oci.ArchiveOptions{RepoTags: tags, Docker: true})
		if err == nil {
			err = w.Flush()
		}
		pw.CloseWithError(err)
		werr <- err
	}()
	runErr := cmd.Wait()
	pr.CloseWithError(errors.New("the engine stopped reading"))
	archiveErr := <-werr
	res.Elapsed = time.Since(start)
	engineOut := strings.TrimSpace(out.String())
	switch {
	case archiveErr != nil && !strings.Contains(archiveErr.Error(), "the engine stopped reading"):
		return nil, fmt.Errorf("writing the archive for %s load: %w (the engine loaded nothing usable)", engine, archiveErr)
	case runErr != nil:
		return nil, fmt.Errorf("%s load failed (%v): %s", engine, runErr, engineOut)
	case archiveErr != nil:
		return nil, fmt.Errorf("%s load stopped reading the archive: %s", engine, engineOut)
	}
	for _, l := range strings.Split(engineOut, "\n") {
		if strings.HasPrefix(l, "Loaded image") {
			fmt.Fprintf(log, "%s: %s\n", engine, l)
		}
	}

	// The engine's ID for what we built: docker names the image after the
	// archive's RepoTags; podman loads the OCI layout beside them and
	// leaves it unnamed, so look it up by the config digest then.
	var id string
	for _, t := range tags {
		if got, err := inspectID(ctx, engine, t); err == nil && sameID(got, m.Config.Digest, o.Image.Digest, engine) {
			id = got
			break
		}
	}
	if id == "" {
		got, err := inspectID(ctx, engine, m.Config.Digest.Encoded())
		if err != nil {
			return nil, fmt.Errorf("after loading, %s has no image with ID %s (the config digest we built): %v", engine, m.Config.Digest, err)
		}
		if !sameID(got, m.Config.Digest, o.Image.Digest, engine) {
			return nil, fmt.Errorf("after loading, %s reports image ID %s, but the config digest we built is %s", engine, got, m.Config.Digest)
		}
		id = got
	}
	res.ID = m.Config.Digest.String()
	for _, t := range tags {
		if got, err := inspectID(ctx, engine, t); err != nil || !sameID(got, m.Config.Digest, o.Image.Digest, engine) {
			if out, err := exec.CommandContext(ctx, engine, "tag", id, t).CombinedOutput(); err != nil {
				return nil, fmt.Errorf("%s tag %s %s: %s", engine, id, t, firstLine(out, err))
			}
		}
		got, err := inspectID(ctx, engine, t)
		if err != nil {
			return nil, fmt.Errorf("after loading, %s has no image %s: %v", engine, t, err)
		}
		if !sameID(got, m.Config.Digest, o.Image.Digest, engine) {
			return nil, fmt.Errorf("after loading, %s says %s is image %s, not the %s we built", engine, t, got, m.Config.Digest)
		}
		res.Tags = append(res.Tags, t)
	}
	return res, nil
}

// inspectID asks the engine for the ID of ref.
func inspectID(ctx context.Context, engine, ref string) (string, error) {
	out, err := exec.CommandContext(ctx, engine, "image", "inspect", "--format", "{{.Id}}", ref).CombinedOutput()
	if err != nil {
		return "", errors.New(firstLine(out, err))
	}
	return strings.TrimSpace(string(out)), nil
}

// sameID compares an engine's image ID with the config digest (podman
// prints it without "sha256:"). Docker with the containerd image store
// reports the manifest digest instead, which identifies the same bytes.
func sameID(id string, config, manifest digest.Digest, engine string) bool {
	id = strings.TrimPrefix(id, "sha256:")
	return id == config.Encoded() || engine == EngineDocker && id == manifest.Encoded()
}
