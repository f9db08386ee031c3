package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/rules-repro/rules_repro/tools/lock"
	"github.com/rules-repro/rules_repro/tools/oci"
	"github.com/rules-repro/rules_repro/tools/registry"
)

func init() {
	register(command{"lock", "pin base images and files in repro.lock.json (repro lock help)", cmdLock})
}

// lockVerb is one subcommand of a command with subcommands (lock, pull).
type lockVerb struct {
	name    string
	summary string
	run     func(args []string, stdout io.Writer) error
}

var lockSubcommands = []lockVerb{
	{"add", "add an image (or an http(s) file) to the lockfile, without resolving it", cmdLockAdd},
	{"add-file", "pin an http(s) file: download it once and record its sha256", cmdLockAddFile},
	{"check", "check offline that the lockfile is complete, consistent, allowed by its policy and canonical", cmdLockCheck},
	{"fmt", "rewrite the lockfile in canonical form", cmdLockFmt},
	{"update", "resolve tags and download files to fill in and refresh the pins; --check-only reports what would move", cmdLockUpdate},
}

func cmdLock(args []string, stdout io.Writer) error {
	return runVerb("lock", lockSubcommands, args, stdout)
}

// runVerb runs the subcommand args[0] of cmd.
func runVerb(cmd string, subs []lockVerb, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(stdout, "Usage: repro %s SUBCOMMAND [flags]\n\nSubcommands:\n", cmd)
		for _, s := range subs {
			fmt.Fprintf(stdout, "  %-10s %s\n", s.name, s.summary)
		}
		fmt.Fprintf(stdout, "\nRun 'repro %s SUBCOMMAND -h' for the flags of a subcommand.\n", cmd)
		if len(args) == 0 {
			return usagef("missing subcommand")
		}
		return errHelp
	}
	names := make([]string, len(subs))
	for i, s := range subs {
		if s.name == args[0] {
			return s.run(args[1:], stdout)
		}
		names[i] = s.name
	}
	return usagef("unknown subcommand %q (have: %s)", args[0], strings.Join(names, ", "))
}

// pullFlags are the flags of commands that talk to registries.
type pullFlags struct {
	caFiles  stringList
	insecure bool
	stall    stallFlag
}

func (r *pullFlags) register(fs *flag.FlagSet) {
	fs.Var(&r.caFiles, "ca-file", "PEM file of a CA to trust in addition to the system roots (repeatable; default: $REPRO_REGISTRY_CA; SSL_CERT_FILE is honoured too)")
	fs.BoolVar(&r.insecure, "insecure", false, "allow plain HTTP and skip TLS verification (prints a warning; never use it for real registries)")
	r.stall.register(fs)
}

// Test seams: the retry policy and where warnings go.
var (
	pullRetry              = registry.Retry{}
	pullWarnings io.Writer = os.Stderr
)

func (r *pullFlags) client() (*registry.Client, error) {
	if r.insecure {
		fmt.Fprintln(pullWarnings, "repro: warning: --insecure: plain HTTP is allowed and TLS certificates are not verified; what is fetched is still checked against its digest, but tags and credentials are not protected")
	}
	return registry.New(registry.Options{CAFiles: r.cas(), Insecure: r.insecure, Retry: pullRetry, StallTimeout: r.stall.get()})
}

// RegistryCAEnv names the environment variable that gives the PEM files of
// CAs to trust (a path list, separated by ':'), for every command that talks to registries when no
// --ca-file is given. The pins repository rules pass it on, and the `bazel
// run` targets set it from --@rules_repro//rules/settings:registry_ca.
const RegistryCAEnv = "REPRO_REGISTRY_CA"

// cas returns the --ca-file values, or REPRO_REGISTRY_CA when none is given.
func (r *pullFlags) cas() []string {
	if len(r.caFiles) > 0 {
		return r.caFiles
	}
	var out []string
	for _, f := range filepath.SplitList(os.Getenv(RegistryCAEnv)) {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// interruptContext is cancelled by SIGINT or SIGTERM.
func interruptContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func lockfileFlag(fs *flag.FlagSet) *string {
	return fs.String("lockfile", lock.DefaultPath, "the lockfile")
}

func cmdLockUpdate(args []string, stdout io.Writer) error {
	fs := newFlags("lock update", "lock update [--lockfile F] [--name NAME]... [--keep-digests] [--check-only] [--ca-file PEM]... [--insecure] [--stall-timeout D]", stdout)
	path := lockfileFlag(fs)
	var names stringList
	fs.Var(&names, "name", "update only this entry (repeatable); default: all")
	keep := fs.Bool("keep-digests", false, "resolve entries that have a digest by that digest, not their tag: fill in what is missing (say, platforms after 'repro policy import') without moving any pin")
	checkOnly := fs.Bool("check-only", false, "write nothing; report what would move and exit with status 3 when anything would change (1 when the lockfile cannot be updated)")
	var rf pullFlags
	rf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	l, err := lock.Read(*path)
	if err != nil {
		return err
	}
	client, err := rf.client()
	if err != nil {
		return err
	}
	ctx, cancel := interruptContext()
	defer cancel()
	updated, err := l.Update(ctx, lockResolver{client}, lock.UpdateOptions{Names: names, KeepDigests: *keep, VerifyFiles: true, Log: stdout})
	if err != nil {
		return fmt.Errorf("%s: %w (nothing was written)", *path, err)
	}
	if *checkOnly {
		before, err := l.Marshal()
		if err != nil {
			return err
		}
		after, err := updated.Marshal()
		if err != nil {
			return err
		}
		if !bytes.Equal(before, after) {
			return exitError{3, fmt.Errorf("%s is stale: the changes above would be written by `repro lock update` (nothing was written)", *path)}
		}
		fmt.Fprintf(stdout, "%s: up to date\n", *path)
		return nil
	}
	return updated.Write(*path)
}

func cmdLockAddFile(args []string, stdout io.Writer) error {
	fs := newFlags("lock add-file", "lock add-file NAME https://URL [--lockfile F] [--replace] [--ca-file PEM]... [--insecure] [--stall-timeout D]", stdout)
	path := lockfileFlag(fs)
	replace := fs.Bool("replace", false, "replace an entry of the same name (this is how a file that changed upstream is re-pinned)")
	var rf pullFlags
	rf.register(fs)
	pos, err := parseWithPositionals(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("want NAME and URL, got %d arguments", len(pos))
	}
	name, u := pos[0], pos[1]
	l, err := lock.Read(*path)
	if errors.Is(err, os.ErrNotExist) {
		l, err = lock.New(), nil
	}
	if err != nil {
		return err
	}
	if err := l.AddFile(name, u, "", *replace); err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	client, err := rf.client()
	if err != nil {
		return err
	}
	ctx, cancel := interruptContext()
	defer cancel()
	updated, err := l.Update(ctx, lockResolver{client}, lock.UpdateOptions{Names: []string{name}, Log: stdout})
	if err != nil {
		return fmt.Errorf("%s: %w (nothing was written)", *path, err)
	}
	return updated.Write(*path)
}

// lockResolver adapts registry.Client to lock.Resolver.
type lockResolver struct{ c *registry.Client }

func (r lockResolver) ResolveImage(ctx context.Context, ref string, platforms []string) (*lock.Resolved, error) {
	res, err := r.c.Resolve(ctx, ref, platforms)
	if err != nil {
		return nil, err
	}
	out := &lock.Resolved{Digest: res.Digest.String(), MediaType: res.MediaType, Platforms: map[string]lock.Platform{}}
	for _, img := range res.Images {
		out.Platforms[img.Platform] = lock.Platform{Digest: img.ManifestDigest().String(), Config: img.ConfigDigest().String()}
	}
	return out, nil
}

func (r lockResolver) FileSHA256(ctx context.Context, url string) (string, error) {
	return r.c.FileSHA256(ctx, url)
}

func cmdLockCheck(args []string, stdout io.Writer) error {
	fs := newFlags("lock check", "lock check [--lockfile F] [--json]", stdout)
	path := lockfileFlag(fs)
	asJSON := fs.Bool("json", false, "print the report as JSON on stdout, each problem with the entry it is about (for the pins repository rules); the exit status is the same")
	if err := parse(fs, args); err != nil {
		return err
	}
	data, err := os.ReadFile(*path)
	if err != nil {
		if *asJSON {
			writeCheckJSON(stdout, &lock.Report{Problems: []lock.Problem{{Message: err.Error()}}})
		}
		return err
	}
	rep := lock.Check(data)
	if *asJSON {
		writeCheckJSON(stdout, rep)
		if err := rep.Err(); err != nil {
			return exitError{code: 1}
		}
		return nil
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(stdout, "%s: warning: %s\n", *path, w)
	}
	if err := rep.Err(); err != nil {
		var pe *lock.ProblemsError
		if errors.As(err, &pe) && len(pe.Problems) == 1 {
			return fmt.Errorf("%s: %w", *path, err)
		}
		return fmt.Errorf("%s has %w", *path, err)
	}
	fmt.Fprintf(stdout, "%s: ok\n", *path)
	return nil
}

func cmdLockFmt(args []string, stdout io.Writer) error {
	fs := newFlags("lock fmt", "lock fmt [--lockfile F]", stdout)
	path := lockfileFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	l, err := lock.Read(*path)
	if err != nil {
		return err
	}
	return l.Write(*path)
}

func cmdLockAdd(args []string, stdout io.Writer) error {
	fs := newFlags("lock add", "lock add NAME IMAGE[:TAG] [--platform os/arch]... | lock add NAME https://URL [--sha256 HEX]   [--lockfile F] [--replace]", stdout)
	path := lockfileFlag(fs)
	var platforms stringList
	fs.Var(&platforms, "platform", "platform to pin, os/arch[/variant] (repeatable); default: every platform the tag offers, decided at the first update")
	sha := fs.String("sha256", "", "for a file: its sha256, if known (else lock update downloads it once)")
	replace := fs.Bool("replace", false, "replace an entry of the same name")
	pos, err := parseWithPositionals(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("want NAME and REF, got %d arguments", len(pos))
	}
	name, ref := pos[0], pos[1]
	l, err := lock.Read(*path)
	if errors.Is(err, os.ErrNotExist) {
		l, err = lock.New(), nil
	}
	if err != nil {
		return err
	}
	isURL := strings.HasPrefix(ref, "https://") || strings.HasPrefix(ref, "http://")
	switch {
	case isURL && len(platforms) > 0:
		return usagef("--platform is for images, not files")
	case !isURL && *sha != "":
		return usagef("--sha256 is for files, not images")
	}
	for _, p := range platforms {
		if _, err := oci.ParsePlatform(p); err != nil {
			return usagef("--platform: %v", err)
		}
	}
	if isURL {
		err = l.AddFile(name, ref, *sha, *replace)
	} else {
		err = l.AddImage(name, ref, platforms, *replace)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	if err := l.Write(*path); err != nil {
		return err
	}
	kind := "images"
	if isURL {
		kind = "files"
	}
	fmt.Fprintf(stdout, "%s: added %s.%s (%s); run repro lock update --name %s to pin it\n", *path, kind, name, ref, name)
	return nil
}

// checkJSON is the report of `lock check --json`.
type checkJSON struct {
	// Problems of one entry have Kind "images" or "files" and Name; the
	// others are about the whole file.
	Problems []checkProblem `json:"problems"`
	Warnings []string       `json:"warnings"`
	// Canonical is false when the file is not in canonical form (which is
	// not listed in Problems: `repro lock fmt` fixes it and no pin changes).
	Canonical bool `json:"canonical"`
}

type checkProblem struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Path    string `json:"path"`
	Message string `json:"message"`
}

func writeCheckJSON(w io.Writer, rep *lock.Report) {
	out := checkJSON{Problems: []checkProblem{}, Warnings: append([]string{}, rep.Warnings...), Canonical: true}
	for _, p := range rep.Problems {
		if p.IsCanonicalForm() {
			out.Canonical = false
			continue
		}
		kind, name := p.Entry()
		out.Problems = append(out.Problems, checkProblem{Kind: kind, Name: name, Path: p.Path, Message: p.Message})
	}
	b, _ := json.Marshal(out) // strings and slices only: cannot fail
	fmt.Fprintf(w, "%s\n", b)
}
