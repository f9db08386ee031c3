package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// env is what every section gets: the mode, directories, and the tools.
type env struct {
	quick   bool
	runs    int
	work    string // scratch directory for corpora and outputs
	repo    string // repository root
	cache   string // where go-installed tools are kept
	self    string // this program, for the hidden floor command
	repro   string // the freshly built repro binary
	tools   map[string]string
	install bool
	// largeCompressions are the compressions repro runs with on the large
	// (2 GB) corpus of the layer section.
	largeCompressions []string
	logf              func(format string, args ...any)
}

// aptTools maps each command the benchmark runs to its Debian package.
var aptTools = []struct{ cmd, pkg string }{
	{"tar", "tar"},
	{"gzip", "gzip"},
	{"bsdtar", "libarchive-tools"},
	{"pigz", "pigz"},
	{"zstd", "zstd"},
	{"sha256sum", "coreutils"},
	{"time", "time"}, // GNU time, for the peak RSS of each process
}

const (
	craneModule  = "github.com/google/go-containerregistry/cmd/crane"
	craneVersion = "v0.22.1"
)

// ensureTools finds the Debian tools, installing the missing ones with
// apt-get (only those, and only when some are missing), and crane at its
// pinned version into the cache directory with `go install`.
func (e *env) ensureTools() error {
	e.tools = map[string]string{}
	var missing []string
	for _, t := range aptTools {
		if _, err := exec.LookPath(t.cmd); err != nil {
			missing = append(missing, t.pkg)
		}
	}
	if len(missing) > 0 {
		if !e.install {
			return fmt.Errorf("missing Debian packages %s (run without --no-install, or apt-get install -y them)", strings.Join(missing, " "))
		}
		e.logf("installing %s with apt-get", strings.Join(missing, " "))
		if err := sh("", nil, "apt-get", "update"); err != nil {
			return err
		}
		if err := sh("", []string{"DEBIAN_FRONTEND=noninteractive"}, "apt-get", append([]string{"install", "-y", "--no-install-recommends"}, missing...)...); err != nil {
			return err
		}
	}
	for _, t := range aptTools {
		p, err := exec.LookPath(t.cmd)
		if err != nil {
			return fmt.Errorf("%s is still missing after installing %s", t.cmd, t.pkg)
		}
		e.tools[t.cmd] = p
	}

	bin := filepath.Join(e.cache, "bin")
	crane := filepath.Join(bin, "crane")
	if out, err := exec.Command(crane, "version").Output(); err != nil || strings.TrimSpace(string(out)) != craneVersion {
		if !e.install {
			return fmt.Errorf("crane %s is not in %s (run without --no-install)", craneVersion, bin)
		}
		e.logf("installing crane %s into %s", craneVersion, bin)
		if err := os.MkdirAll(bin, 0o755); err != nil {
			return err
		}
		// Outside the repository, so that its go.mod plays no part.
		if err := sh(os.TempDir(), []string{"GOBIN=" + bin}, "go", "install", craneModule+"@"+craneVersion); err != nil {
			return err
		}
	}
	e.tools["crane"] = crane
	return nil
}

// buildRepro builds repro from the repository, as the Bazel rules do.
func (e *env) buildRepro() error {
	e.repro = filepath.Join(e.work, "bin", "repro")
	e.logf("building repro from %s", e.repo)
	return sh(e.repo, nil, "go", "build", "-o", e.repro, "./tools/repro")
}

func sh(dir string, extraEnv []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

// findRepo walks up from the working directory to the directory holding
// this module's go.mod.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/rules-repro/rules_repro\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("not inside the rules_repro repository (no go.mod of github.com/rules-repro/rules_repro above the working directory); use --repo")
		}
		dir = parent
	}
}

// machine describes the host for the report: CPU, cores, memory, kernel,
// distribution and the version of every tool measured.
func (e *env) machine() [][2]string {
	cpu := "unknown"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		info := map[string]string{}
		s := bufio.NewScanner(f)
		s.Buffer(make([]byte, 64*1024), 1<<20)
		for s.Scan() {
			if s.Text() == "" {
				break // the first processor is enough
			}
			if k, v, ok := strings.Cut(s.Text(), ":"); ok {
				info[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		f.Close()
		flags := " " + info["flags"] + " "
		has := func(flag string) string {
			if strings.Contains(flags, " "+flag+" ") {
				return "yes"
			}
			return "no"
		}
		cpu = fmt.Sprintf("%s (family %s, model %s; SHA-NI %s, AVX2 %s, AVX-512 %s)", info["model name"], info["cpu family"], info["model"],
			has("sha_ni"), has("avx2"), has("avx512f"))
	}
	mem := "unknown"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			var kb int64
			if _, err := fmt.Sscanf(l, "MemTotal: %d kB", &kb); err == nil {
				mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	kernel := "unknown"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(b))
	}
	distro := "unknown"
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				distro = strings.Trim(v, `"`)
			}
		}
	}
	rows := [][2]string{
		{"CPU", cpu},
		{"Cores", fmt.Sprintf("%d (GOMAXPROCS %d)", runtime.NumCPU(), runtime.GOMAXPROCS(0))},
		{"Memory", mem},
		{"Kernel", kernel},
		{"OS", distro},
		{"Go", goVersion()},
	}
	if e.repro != "" {
		rows = append(rows, [2]string{"repro", firstLine(e.repro, "version")})
	}
	versions := []struct{ tool, flag string }{
		{"tar", "--version"}, {"gzip", "--version"}, {"bsdtar", "--version"},
		{"pigz", "--version"}, {"zstd", "--version"}, {"sha256sum", "--version"}, {"crane", "version"},
	}
	for _, v := range versions {
		if p, ok := e.tools[v.tool]; ok {
			rows = append(rows, [2]string{v.tool, firstLine(p, v.flag)})
		}
	}
	return rows
}

// loadAverage returns the 1, 5 and 15 minute load averages: other work on
// the machine shows up in the wall times.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func goVersion() string {
	out, err := exec.Command("go", "version").Output()
	if err != nil {
		return runtime.Version() + " (this program)"
	}
	return strings.TrimSpace(string(out))
}

// firstLine runs a tool's version command and returns the first non-empty
// line of its output (pigz prints to stderr).
func firstLine(name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return strings.Trim(l, "* ")
		}
	}
	return "unknown"
}
