package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/rules-repro/rules_repro/tools/compat"
	"github.com/rules-repro/rules_repro/tools/epoch"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/registry"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// optString is a string flag that records whether it was set.
type optString struct {
	v   string
	set bool
}

func (o *optString) String() string     { return o.v }
func (o *optString) Set(v string) error { o.v, o.set = v, true; return nil }

// newFlags returns a flag set whose errors are returned, not printed twice.
func newFlags(name, usage string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: repro %s\n\nFlags:\n", usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses flags; -h prints usage and returns errHelp.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp { // the flag package has printed the usage
			return errHelp
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return runParseChecks(fs)
}

// parseWithPositionals parses flags that may come before, between or after
// the positional arguments, and returns the positional ones.
func parseWithPositionals(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, errHelp
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, runParseChecks(fs)
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), runParseChecks(fs)
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseChecks are checks parse runs once a flag set is parsed: for
// settings that come from a flag or from the environment.
var (
	parseChecksMu sync.Mutex
	parseChecks   = map[*flag.FlagSet][]func() error{}
)

// afterParse registers a check for parse to run after fs is parsed.
func afterParse(fs *flag.FlagSet, check func() error) {
	parseChecksMu.Lock()
	defer parseChecksMu.Unlock()
	parseChecks[fs] = append(parseChecks[fs], check)
}

func runParseChecks(fs *flag.FlagSet) error {
	parseChecksMu.Lock()
	checks := parseChecks[fs]
	delete(parseChecks, fs)
	parseChecksMu.Unlock()
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// stallEnv sets the stall timeout of every command that talks to a
// registry when --stall-timeout is not given.
const stallEnv = "REPRO_STALL_TIMEOUT"

// stallFlag is --stall-timeout: how long any registry transfer may make no
// progress before it is abandoned and retried.
type stallFlag struct {
	flag optString
	d    time.Duration
}

func (s *stallFlag) register(fs *flag.FlagSet) {
	fs.Var(&s.flag, "stall-timeout", fmt.Sprintf("abandon (and retry) a registry transfer that makes no progress for this long, a duration such as 30s or 2m (default: $%s, else %v)", stallEnv, registry.DefaultStallTimeout))
	afterParse(fs, s.check)
}

func (s *stallFlag) check() error {
	v, what := s.flag.v, "--stall-timeout "+s.flag.v
	if !s.flag.set {
		env, ok := os.LookupEnv(stallEnv)
		if !ok || env == "" {
			s.d = registryStallTimeout
			return nil
		}
		v, what = env, fmt.Sprintf("environment variable %s %q", stallEnv, env)
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return usagef("%s: want a duration above zero, such as 30s or 2m", what)
	}
	s.d = d
	return nil
}

// get returns the timeout; zero means the library's default.
func (s *stallFlag) get() time.Duration { return s.d }

var errHelp = fmt.Errorf("help requested")

// epochFlags are the ways to give SOURCE_DATE_EPOCH.
type epochFlags struct {
	value      optString
	statusFile string
	statusKey  string
}

func (e *epochFlags) register(fs *flag.FlagSet) {
	fs.Var(&e.value, "source-date-epoch", "SOURCE_DATE_EPOCH: seconds since 1970-01-01T00:00:00Z (default: $SOURCE_DATE_EPOCH, else 0)")
	fs.StringVar(&e.statusFile, "stamp-file", "", "read SOURCE_DATE_EPOCH from this Bazel workspace status file (stable-status.txt)")
	fs.StringVar(&e.statusKey, "stamp-key", "STABLE_SOURCE_DATE_EPOCH", "key to read from --stamp-file")
}

func (e *epochFlags) get() (int64, error) {
	switch {
	case e.value.set && e.statusFile != "":
		return 0, usagef("give either --source-date-epoch or --stamp-file, not both")
	case e.value.set:
		return epoch.Parse(e.value.v, "--source-date-epoch")
	case e.statusFile != "":
		return epoch.FromStatusFile(e.statusFile, e.statusKey)
	}
	if v, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok {
		return epoch.Parse(v, "environment variable SOURCE_DATE_EPOCH")
	}
	return epoch.Default, nil
}

// versionFlag is --compatibility-version.
type versionFlag struct{ v int }

func (c *versionFlag) register(fs *flag.FlagSet) {
	fs.Func("compatibility-version", fmt.Sprintf("compatibility version that pins every digest-affecting behaviour (default %d; see 'repro version')", compat.Latest), func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		c.v = n
		return nil
	})
}

func (c *versionFlag) get() (*compat.Version, error) { return compat.Lookup(c.v) }

// keyValues parses repeated KEY=VALUE flags into a map.
func keyValues(flagName string, list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, s := range list {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, usagef("--%s %q: want KEY=VALUE", flagName, s)
		}
		m[k] = v
	}
	return m, nil
}

// blobFlags say where blobs are.
type blobFlags struct {
	blobs, layers, layouts stringList
}

func (b *blobFlags) register(fs *flag.FlagSet) {
	fs.Var(&b.blobs, "blob", "a blob file (manifest, config, index, layer); its digest is computed (repeatable)")
	fs.Var(&b.layers, "layer", "DESC.json=BLOB: a layer blob with its descriptor from 'repro layer' (repeatable)")
	fs.Var(&b.layouts, "blobs-from", "an OCI layout directory whose blobs may be used, e.g. the base image (repeatable)")
}

func (b *blobFlags) set() (*oci.BlobSet, error) {
	set := oci.NewBlobSet()
	for _, p := range b.blobs {
		d, err := fileDigest(p)
		if err != nil {
			return nil, err
		}
		set.AddFile(d, p)
	}
	for _, l := range b.layers {
		descPath, blobPath, ok := strings.Cut(l, "=")
		if !ok {
			return nil, usagef("--layer %q: want DESCRIPTOR.json=BLOB", l)
		}
		d, err := oci.ReadLayerDescriptor(descPath)
		if err != nil {
			return nil, err
		}
		set.AddFile(d.Digest, blobPath)
	}
	for _, l := range b.layouts {
		set.AddLayout(l)
	}
	return set, nil
}

func fileDigest(p string) (digest.Digest, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	return digest.NewDigest(digest.SHA256, h), nil
}
