package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

func init() {
	register(section{
		name:  "bazel",
		title: "Whole builds with Bazel",
		order: 20,
		run:   runBazelSection,
	})
}

// spawnExec is the part of a Bazel execution log entry
// (--execution_log_json_file, one JSON object per executed spawn) that
// the section reads.
type spawnExec struct {
	Mnemonic        string   `json:"mnemonic"`
	ProgressMessage string   `json:"progressMessage"`
	Runner          string   `json:"runner"`
	RemoteCacheHit  bool     `json:"remoteCacheHit"`
	ListedOutputs   []string `json:"listedOutputs"`
}

var labelRE = regexp.MustCompile(`//[^\s:]*:\S+`)

// label is the target a spawn belongs to, from its progress message
// ("Building layer //images/app01:layer").
func (s spawnExec) label() string {
	if l := labelRE.FindString(s.ProgressMessage); l != "" {
		return l
	}
	if len(s.ListedOutputs) > 0 {
		return s.ListedOutputs[0]
	}
	return "?"
}

func (s spawnExec) key() string { return s.Mnemonic + " " + s.label() }

// readExecLog reads a JSON execution log: a stream of objects.
func readExecLog(r io.Reader) ([]spawnExec, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	var out []spawnExec
	for {
		var s spawnExec
		err := dec.Decode(&s)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("execution log entry %d: %w", len(out)+1, err)
		}
		out = append(out, s)
	}
}

var (
	processesRE = regexp.MustCompile(`INFO: (\d+ process(?:es)?(?:\.|: .*))`)
	analyzedRE  = regexp.MustCompile(`INFO: (Analyzed \d+ targets? \(.*\))`)
)

// lastMatch returns the first group of the last match of re in s.
func lastMatch(re *regexp.Regexp, s string) string {
	m := re.FindAllStringSubmatch(s, -1)
	if len(m) == 0 {
		return ""
	}
	return strings.TrimSpace(m[len(m)-1][1])
}

// cacheTraffic is what the HTTP remote cache served during one build,
// from nginx's access log (the "combined" format: status and
// $body_bytes_sent after the request).
type cacheTraffic struct {
	acHits, acMisses int
	casGets          int
	acBytes          int64
	casBytes         int64
	puts             int
}

func (t cacheTraffic) bytes() int64 { return t.acBytes + t.casBytes }

func parseAccessLog(b []byte) (cacheTraffic, error) {
	var t cacheTraffic
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		i := strings.IndexByte(line, '"')
		if i < 0 {
			return t, fmt.Errorf("access log line without a request: %q", line)
		}
		j := strings.IndexByte(line[i+1:], '"')
		if j < 0 {
			return t, fmt.Errorf("access log line without a request: %q", line)
		}
		req := strings.Fields(line[i+1 : i+1+j])
		rest := strings.Fields(line[i+2+j:])
		if len(req) < 2 || len(rest) < 2 {
			return t, fmt.Errorf("unexpected access log line %q", line)
		}
		status, err1 := strconv.Atoi(rest[0])
		n, err2 := strconv.ParseInt(rest[1], 10, 64)
		if err1 != nil || err2 != nil {
			return t, fmt.Errorf("unexpected access log line %q", line)
		}
		switch {
		case req[0] == "PUT":
			t.puts++
		case req[0] == "GET" && strings.HasPrefix(req[1], "/ac/"):
			if status == 200 {
				t.acHits++
			} else {
				t.acMisses++
			}
			t.acBytes += n
		case req[0] == "GET" && strings.HasPrefix(req[1], "/cas/"):
			t.casGets++
			t.casBytes += n
		}
	}
	return t, nil
}

// nginxCache is the HTTP remote cache, started with e2e/lib/services.sh.
type nginxCache struct {
	services string // e2e/lib/services.sh
	dir      string
	addr     string
}

func startNginx(services, dir string) (*nginxCache, error) {
	// A fresh cache every run; an nginx left by an interrupted run is
	// stopped first (stop_nginx_cache checks that the pid is ours).
	out, err := exec.Command("bash", "-c", `source "$1" && stop_nginx_cache "$2" && rm -rf "$2/cache" "$2/logs" && start_nginx_cache "$2"`,
		"bash", services, dir).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		return nil, fmt.Errorf("starting nginx as the remote cache: %v: %s", err, msg)
	}
	return &nginxCache{services: services, dir: dir, addr: strings.TrimSpace(string(out))}, nil
}

func (n *nginxCache) stop() error {
	return exec.Command("bash", "-c", `source "$1" && stop_nginx_cache "$2"`, "bash", n.services, n.dir).Run()
}

func (n *nginxCache) logPath() string { return filepath.Join(n.dir, "logs", "access.log") }

func (n *nginxCache) logSize() int64 {
	fi, err := os.Stat(n.logPath())
	if err != nil {
		return 0
	}
	return fi.Size()
}

func (n *nginxCache) trafficSince(off int64) (cacheTraffic, error) {
	f, err := os.Open(n.logPath())
	if err != nil {
		return cacheTraffic{}, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return cacheTraffic{}, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return cacheTraffic{}, err
	}
	return parseAccessLog(b)
}

func (n *nginxCache) stored() (int64, int, error) {
	var size int64
	var count int
	err := filepath.WalkDir(filepath.Join(n.dir, "cache"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		size += fi.Size()
		count++
		return nil
	})
	return size, count, err
}

// bazelWS runs Bazel in the benchmark's workspace. Every invocation's
// output is kept in logDir (numbered), with its execution log.
type bazelWS struct {
	e      *env
	dir    string
	logDir string
	seq    int
	cache  *nginxCache
}

// buildResult is one measured build.
type buildResult struct {
	wall      time.Duration
	spawns    []spawnExec
	local     int // spawns executed here (not remote cache hits)
	hits      int // remote cache hits
	processes string
	analyzed  string
	traffic   cacheTraffic
	log       string
}

func (b *bazelWS) command(name string, extraEnv []string, args ...string) (string, time.Duration, string, error) {
	b.seq++
	logFile := filepath.Join(b.logDir, fmt.Sprintf("%02d-%s.log", b.seq, name))
	cmd := exec.Command("bazel", args...)
	cmd.Dir = b.dir
	cmd.Env = append(os.Environ(), extraEnv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	header := fmt.Sprintf("$ %sbazel %s\n# wall %.2fs\n", strings.Join(append(extraEnv, ""), " "), strings.Join(args, " "), wall.Seconds())
	if werr := os.WriteFile(logFile, append([]byte(header), out.Bytes()...), 0o644); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return "", wall, logFile, fmt.Errorf("bazel %s failed (%v); %s ends with:\n%s", strings.Join(args, " "), err, logFile, tailLines(out.String(), 25))
	}
	return out.String(), wall, logFile, nil
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// build runs `bazel build` with an execution log and returns what ran.
func (b *bazelWS) build(name string, flags, targets []string) (buildResult, error) {
	execLog := filepath.Join(b.logDir, fmt.Sprintf("%02d-%s.exec.json", b.seq+1, name))
	args := append([]string{"build", "--execution_log_json_file=" + execLog}, flags...)
	args = append(args, targets...)
	var off int64
	if b.cache != nil {
		off = b.cache.logSize()
	}
	out, wall, logFile, err := b.command(name, nil, args...)
	if err != nil {
		return buildResult{}, err
	}
	res := buildResult{wall: wall, processes: lastMatch(processesRE, out), analyzed: lastMatch(analyzedRE, out), log: logFile}
	f, err := os.Open(execLog)
	if err != nil {
		return res, err
	}
	res.spawns, err = readExecLog(f)
	f.Close()
	if err != nil {
		return res, fmt.Errorf("%s: %w", execLog, err)
	}
	for _, s := range res.spawns {
		if s.RemoteCacheHit {
			res.hits++
		} else {
			res.local++
		}
	}
	if b.cache != nil {
		if res.traffic, err = b.cache.trafficSince(off); err != nil {
			return res, err
		}
	}
	b.e.logf("bazel %-22s %6.2fs  %s", name, wall.Seconds(), res.processes)
	return res, nil
}

// profileSummary is what a build's --profile (Bazel's JSON trace) says
// about where the time went.
type profileSummary struct {
	analysis  time.Duration            // from the start of the command to the first action
	execution time.Duration            // the "Build artifacts" phase
	actions   map[string]time.Duration // summed action time, by kind
	counts    map[string]int
	total     time.Duration // summed time of all actions
}

// actionKind groups an action by its progress message, with its label
// reduced to the target name ("Building layer :layer").
func actionKind(progress string) string {
	if strings.HasPrefix(progress, "Creating runfiles tree") {
		return "Creating runfiles tree"
	}
	return labelRE.ReplaceAllStringFunc(progress, func(l string) string { return l[strings.LastIndexByte(l, ':'):] })
}

func readProfile(r io.Reader) (profileSummary, error) {
	var prof struct {
		TraceEvents []struct {
			Cat  string  `json:"cat"`
			Name string  `json:"name"`
			Ph   string  `json:"ph"`
			Ts   float64 `json:"ts"`
			Dur  float64 `json:"dur"`
		} `json:"traceEvents"`
	}
	if err := json.NewDecoder(r).Decode(&prof); err != nil {
		return profileSummary{}, err
	}
	us := func(f float64) time.Duration { return time.Duration(f * 1e3) }
	p := profileSummary{actions: map[string]time.Duration{}, counts: map[string]int{}}
	var start, build, done, first float64 = -1, -1, -1, -1
	for _, ev := range prof.TraceEvents {
		if ev.Ts > 0 && (start < 0 || ev.Ts < start) {
			start = ev.Ts
		}
		switch {
		case ev.Cat == "build phase marker" && ev.Name == "Build artifacts":
			build = ev.Ts
		case ev.Cat == "build phase marker" && ev.Name == "Complete build":
			done = ev.Ts
		case ev.Cat == "action processing" && ev.Ph == "X":
			k := actionKind(ev.Name)
			p.actions[k] += us(ev.Dur)
			p.counts[k]++
			p.total += us(ev.Dur)
			if first < 0 || ev.Ts < first {
				first = ev.Ts
			}
		}
	}
	if build < 0 || done < 0 {
		return p, fmt.Errorf("the profile has no build phase markers")
	}
	p.execution = us(done - build)
	if first >= 0 {
		p.analysis = us(first - start)
	}
	return p, nil
}

// buildProfiled is build with --profile, summarized.
func (b *bazelWS) buildProfiled(name string, flags, targets []string) (buildResult, profileSummary, error) {
	path := filepath.Join(b.logDir, fmt.Sprintf("%02d-%s.profile.json", b.seq+1, name))
	res, err := b.build(name, append([]string{"--profile=" + path}, flags...), targets)
	if err != nil {
		return res, profileSummary{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return res, profileSummary{}, err
	}
	defer f.Close()
	prof, err := readProfile(f)
	if err != nil {
		return res, prof, fmt.Errorf("%s: %w", path, err)
	}
	return res, prof, nil
}

func (b *bazelWS) clean() error {
	_, _, _, err := b.command("clean", nil, "clean")
	return err
}

func (b *bazelWS) shutdown() {
	if _, _, _, err := b.command("shutdown", nil, "shutdown"); err != nil {
		b.e.logf("bazel shutdown: %v", err)
	}
}

// ensureBazelTools installs Bazel (through e2e/bazel/setup.sh, which also
// writes the offline stubs), nginx and curl (for e2e/lib/services.sh).
func ensureBazelTools(e *env) error {
	var missing []string
	for _, t := range []struct{ cmd, pkg string }{{"bazel", "bazel-bootstrap"}, {"nginx", "nginx"}, {"curl", "curl"}, {"git", "git"}} {
		if _, err := exec.LookPath(t.cmd); err != nil {
			if _, err := os.Stat("/usr/sbin/" + t.cmd); err == nil {
				continue
			}
			missing = append(missing, t.pkg)
		}
	}
	if !e.install {
		// e2e/bazel/setup.sh installs these when they are missing.
		for _, pkg := range []string{"bazel-bootstrap", "bazel-skylib", "gcc", "g++", "libc6-dev"} {
			if packageVersion(pkg) == "unknown" && !contains(missing, pkg) {
				missing = append(missing, pkg)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if !e.install {
		return fmt.Errorf("missing Debian packages %s (run without --no-install, or apt-get install -y them)", strings.Join(missing, " "))
	}
	e.logf("installing %s with apt-get", strings.Join(missing, " "))
	if err := sh("", nil, "apt-get", "update"); err != nil {
		return err
	}
	return sh("", []string{"DEBIAN_FRONTEND=noninteractive"}, "apt-get", append([]string{"install", "-y", "--no-install-recommends"}, missing...)...)
}

func packageVersion(pkg string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", pkg).Output()
	if err != nil || len(out) == 0 {
		return "unknown"
	}
	return string(out)
}

// bazelPipeline is one way of building the monorepo's images, and what
// was measured of it.
type bazelPipeline struct {
	id      string
	label   string
	targets []string // everything: images (and push targets)
	push    []string // what a push-only flow builds
	// expected spawns (mnemonic + label) of the one-file change
	expectIncr []string
	digests    func(images []int) (map[int]string, error)

	cold, fill, hit, minimal, toplevel, pushAll buildResult
	colds                                       []buildResult
	coldProfile                                 profileSummary
	// pushInputs counts, after each push-only build, the files a push
	// reads that are on disk (for rules_repro the runfiles of every push
	// target, resolved through their symlinks), and how many there are.
	pushInputs               map[string][2]int
	pushFiles                func() (present, total int, err error)
	noop, incr               []buildResult
	coldDigests, fillDigests map[int]string
	touchedSame              bool
	touchedDigests           [2]string // before, after
}

func medianWall(rs []buildResult) time.Duration {
	s := make([]sample, len(rs))
	for i, r := range rs {
		s[i] = sample{wall: r.wall}
	}
	return median(s).wall
}

func spawnSummary(spawns []spawnExec) []string {
	var keys []string
	for _, s := range spawns {
		if !s.RemoteCacheHit {
			keys = append(keys, s.key())
		}
	}
	sort.Strings(keys)
	return keys
}

// sameMultiset reports whether got and want hold the same strings.
func sameMultiset(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	g := append([]string(nil), got...)
	w := append([]string(nil), want...)
	sort.Strings(g)
	sort.Strings(w)
	for i := range g {
		if g[i] != w[i] {
			return false
		}
	}
	return true
}

func runBazelSection(e *env, r *report) error {
	m := monorepo(e.quick)
	mode := "full"
	if e.quick {
		mode = "quick"
	}
	root := filepath.Join(e.work, "bazel")
	ws := filepath.Join(root, mode)
	logDir := filepath.Join(root, mode+"-logs")
	if err := ensureBazelTools(e); err != nil {
		return err
	}
	if err := os.RemoveAll(logDir); err != nil {
		return err
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	snap := filepath.Join(root, "rules_repro")
	nfiles, err := snapshotRepo(e.repo, snap)
	if err != nil {
		return err
	}
	e.logf("bazel: rules_repro snapshot of %d files in %s", nfiles, snap)
	if err := sh(e.repo, nil, "bash", filepath.Join(e.repo, "e2e", "bazel", "setup.sh"), filepath.Join(root, "stubs"), filepath.Join(ws, "offline.bazelrc")); err != nil {
		return err
	}
	genStart := time.Now()
	if err := writeWorkspace(e, ws, snap, m); err != nil {
		return err
	}
	genTime := time.Since(genStart)

	b := &bazelWS{e: e, dir: ws, logDir: logDir}
	defer b.shutdown()
	// Server start and the first loading, untimed.
	startStart := time.Now()
	if _, _, _, err := b.command("info", nil, "info", "output_base"); err != nil {
		return err
	}
	serverStart := time.Since(startStart)

	// The helper: built once per machine and workspace by a repository
	// rule (go build). `bazel sync --only` reruns that rule.
	helperRepo := "repro_toolchains_linux_" + runtime.GOARCH
	var helperCold time.Duration
	if !e.quick {
		gocache := filepath.Join(root, "gocache-cold")
		if err := os.RemoveAll(gocache); err != nil {
			return err
		}
		_, helperCold, _, err = b.command("helper-cold-gocache", []string{"GOCACHE=" + gocache}, "sync", "--only="+helperRepo)
		if err != nil {
			return err
		}
		os.RemoveAll(gocache)
		e.logf("bazel: helper built with an empty Go build cache in %.1fs", helperCold.Seconds())
	}
	_, helperWarm, _, err := b.command("helper-warm-gocache", nil, "sync", "--only="+helperRepo)
	if err != nil {
		return err
	}
	e.logf("bazel: helper built with a warm Go build cache in %.1fs", helperWarm.Seconds())
	all := append(append([]string(nil), m.reproTargets()...), m.genruleTargets()...)
	_, analysis, _, err := b.command("analysis", nil, append([]string{"build", "--nobuild"}, all...)...)
	if err != nil {
		return err
	}

	k := m.changeAt
	kName := m.imageName(k)
	repro := &bazelPipeline{
		id: "repro", label: "rules_repro",
		targets: m.reproTargets(), push: m.reproPushTargets(),
		expectIncr: []string{
			"ReproLayer //images/" + kName + ":layer",
			"ReproImage //images/" + kName + ":image",
		},
		digests: func(images []int) (map[int]string, error) {
			d := map[int]string{}
			for _, i := range images {
				b, err := os.ReadFile(filepath.Join(ws, "bazel-bin", "images", m.imageName(i), "image.digest"))
				if err != nil {
					return nil, err
				}
				d[i] = strings.TrimSpace(string(b))
			}
			return d, nil
		},
	}
	genrule := &bazelPipeline{
		id: "genrule", label: "genrule: bsdtar + crane",
		targets: m.genruleTargets(), push: m.genruleTargets(),
		expectIncr: []string{
			"Genrule //images/" + kName + ":gr_layer",
			"Genrule //images/" + kName + ":gr_image",
		},
		digests: func(images []int) (map[int]string, error) {
			d := map[int]string{}
			for _, i := range images {
				tarball := filepath.Join(ws, "bazel-bin", "images", m.imageName(i), "gr_image.tar")
				out, err := exec.Command(e.tools["crane"], "digest", "--tarball", tarball).Output()
				if err != nil {
					return nil, fmt.Errorf("crane digest --tarball %s: %w", tarball, err)
				}
				d[i] = strings.TrimSpace(string(out))
			}
			return d, nil
		},
	}
	repro.pushFiles = func() (int, int, error) {
		// What `bazel run` needs on disk: every file the push's arguments
		// name, resolved in its runfiles tree.
		var present, total int
		for i := 1; i <= m.images; i++ {
			dir := filepath.Join(ws, "bazel-bin", "images", m.imageName(i))
			b, err := os.ReadFile(filepath.Join(dir, "push.args"))
			if err != nil {
				return 0, 0, err
			}
			lines := strings.Split(string(b), "\n")
			for j := 0; j+1 < len(lines); j++ {
				var paths []string
				switch lines[j] {
				case "--descriptor", "--blob", "--blobs-from":
					paths = []string{lines[j+1]}
				case "--layer":
					d, b, _ := strings.Cut(lines[j+1], "=")
					paths = []string{d, b}
				}
				for _, p := range paths {
					total++
					if _, err := os.Stat(filepath.Join(dir, "push.sh.runfiles", p)); err == nil {
						present++
					}
				}
			}
		}
		return present, total, nil
	}
	genrule.pushFiles = func() (int, int, error) {
		var present int
		for i := 1; i <= m.images; i++ {
			if _, err := os.Stat(filepath.Join(ws, "bazel-bin", "images", m.imageName(i), "gr_image.tar")); err == nil {
				present++
			}
		}
		return present, m.images, nil
	}
	pipes := []*bazelPipeline{repro, genrule}
	every := make([]int, m.images)
	for i := range every {
		every[i] = i + 1
	}

	// The file the incremental builds change, restored afterwards. Its
	// image's corpus stamp is removed meanwhile, so that an interrupted
	// run regenerates it.
	appDir := filepath.Join(ws, "images", kName)
	changed, err := firstFile(filepath.Join(appDir, m.app.top))
	if err != nil {
		return err
	}
	original, err := os.ReadFile(changed)
	if err != nil {
		return err
	}
	stampFile := appDir + ".stamp"
	stamp, err := os.ReadFile(stampFile)
	if err != nil {
		return err
	}
	restore := func() error {
		if err := os.WriteFile(changed, original, 0o644); err != nil {
			return err
		}
		if err := os.Chtimes(changed, fixedMtime, fixedMtime); err != nil {
			return err
		}
		return os.WriteFile(stampFile, stamp, 0o644)
	}
	relChanged, _ := filepath.Rel(ws, changed)

	// 1. Local builds: cold (runs rounds, the pipelines interleaved), then
	// after each pipeline's last cold build its no-op and one-file builds.
	for round := 1; round <= e.runs; round++ {
		for _, p := range pipes {
			if err := b.clean(); err != nil {
				return err
			}
			res, prof, err := b.buildProfiled(fmt.Sprintf("%s-cold-%d", p.id, round), nil, p.targets)
			if err != nil {
				return err
			}
			p.colds = append(p.colds, res)
			p.cold, p.coldProfile = res, prof
			if round == 1 {
				if p.coldDigests, err = p.digests(every); err != nil {
					return err
				}
			}
			if round < e.runs {
				continue
			}
			for i := 1; i <= e.runs; i++ {
				res, err := b.build(fmt.Sprintf("%s-noop-%d", p.id, i), nil, p.targets)
				if err != nil {
					return err
				}
				p.noop = append(p.noop, res)
			}
			if err := os.Remove(stampFile); err != nil {
				return err
			}
			for i := 1; i <= e.runs; i++ {
				content := append(append([]byte(nil), original...), fmt.Sprintf("\n// changed by the benchmark (%s, run %d)\n", p.id, i)...)
				if err := os.WriteFile(changed, content, 0o644); err != nil {
					return err
				}
				res, err := b.build(fmt.Sprintf("%s-incremental-%d", p.id, i), nil, p.targets)
				if err != nil {
					restore()
					return err
				}
				p.incr = append(p.incr, res)
			}
			if err := restore(); err != nil {
				return err
			}
		}
	}

	// The incremental assertion, checked before anything else is measured:
	// exactly image k's layer and image actions ran, in every run (the
	// layout is an output group, not built by default).
	var incrErr []string
	for i, res := range repro.incr {
		got := spawnSummary(res.spawns)
		if !sameMultiset(got, repro.expectIncr) {
			incrErr = append(incrErr, fmt.Sprintf("run %d ran [%s], want exactly [%s] (log %s)", i+1, strings.Join(got, "; "), strings.Join(repro.expectIncr, "; "), res.log))
		}
	}
	if len(incrErr) > 0 {
		return fmt.Errorf("incremental build: after changing %s, the spawns that ran are not exactly that image's layer and assembly actions:\n  %s", relChanged, strings.Join(incrErr, "\n  "))
	}

	// 2. The HTTP remote cache: fill it (a cold build that uploads), then
	// after `bazel clean` rebuild from it, and build the push-only flow
	// with each download mode.
	cache, err := startNginx(filepath.Join(e.repo, "e2e", "lib", "services.sh"), filepath.Join(root, mode+"-nginx"))
	if err != nil {
		return err
	}
	defer cache.stop()
	b.cache = cache
	rc := "--remote_cache=http://" + cache.addr
	uploaded := map[string][2]int64{}
	for _, p := range pipes {
		before, beforeN, err := cache.stored()
		if err != nil {
			return err
		}
		if err := b.clean(); err != nil {
			return err
		}
		if p.fill, err = b.build(p.id+"-fill-remote-cache", []string{rc}, p.targets); err != nil {
			return err
		}
		after, afterN, err := cache.stored()
		if err != nil {
			return err
		}
		uploaded[p.id] = [2]int64{after - before, int64(afterN - beforeN)}
		if p.fillDigests, err = p.digests(every); err != nil {
			return err
		}
	}
	for _, p := range pipes {
		if err := b.clean(); err != nil {
			return err
		}
		if p.hit, err = b.build(p.id+"-from-remote-cache", []string{rc}, p.targets); err != nil {
			return err
		}
	}
	for _, dl := range []string{"minimal", "toplevel", "all"} {
		for _, p := range pipes {
			if err := b.clean(); err != nil {
				return err
			}
			// Bazel 4.2.3 has --remote_download_minimal and _toplevel;
			// "all" (the default) is spelled --remote_download_outputs=all.
			flag := map[string]string{"minimal": "--remote_download_minimal", "toplevel": "--remote_download_toplevel", "all": "--remote_download_outputs=all"}[dl]
			res, err := b.build(p.id+"-push-"+dl, []string{rc, flag}, p.push)
			if err != nil {
				return err
			}
			switch dl {
			case "minimal":
				p.minimal = res
			case "toplevel":
				p.toplevel = res
			default:
				p.pushAll = res
			}
			present, total, err := p.pushFiles()
			if err != nil {
				return err
			}
			if p.pushInputs == nil {
				p.pushInputs = map[string][2]int{}
			}
			p.pushInputs[dl] = [2]int{present, total}
		}
	}
	b.cache = nil
	if err := cache.stop(); err != nil {
		return fmt.Errorf("stopping nginx: %w", err)
	}

	// 3. What another checkout gets: the same bytes with new mtimes. Touch
	// image k's sources, rebuild it without caches, compare digests.
	now := time.Now()
	var appFiles []string
	if err := filepath.WalkDir(filepath.Join(appDir, m.app.top), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			appFiles = append(appFiles, p)
		}
		return err
	}); err != nil {
		return err
	}
	setTimes := func(t time.Time) error {
		for _, f := range appFiles {
			if err := os.Chtimes(f, t, t); err != nil {
				return err
			}
		}
		return nil
	}
	if err := setTimes(now); err != nil {
		return err
	}
	if err := b.clean(); err != nil {
		setTimes(fixedMtime)
		return err
	}
	_, err = b.build("touched-sources", nil, []string{"//images/" + kName + ":image", "//images/" + kName + ":gr_image"})
	if rerr := setTimes(fixedMtime); err == nil {
		err = rerr
	}
	if err != nil {
		return err
	}
	for _, p := range pipes {
		d, err := p.digests([]int{k})
		if err != nil {
			return err
		}
		p.touchedDigests = [2]string{p.coldDigests[k], d[k]}
		p.touchedSame = d[k] == p.coldDigests[k]
	}

	// 4. Remote execution on a Buildbarn cluster, each pipeline on a fresh
	// one: cold, no-op, one file changed, and from the cluster's cache.
	if err := os.Remove(stampFile); err != nil {
		return err
	}
	rx, err := runRemoteExec(e, b, m, filepath.Join(e.repo, "e2e", "lib"), filepath.Join(root, mode+"-buildbarn"), pipes, every,
		func(p *bazelPipeline) error {
			content := append(append([]byte(nil), original...), fmt.Sprintf("\n// changed by the benchmark (%s, remote execution)\n", p.id)...)
			return os.WriteFile(changed, content, 0o644)
		}, restore)
	if err != nil {
		restore()
		return err
	}

	writeBazelReport(e, r, m, pipes, bazelExtras{
		changed: relChanged, genTime: genTime, serverStart: serverStart, analysis: analysis,
		helperCold: helperCold, helperWarm: helperWarm, uploaded: uploaded, logDir: logDir,
		bazelVersion: packageVersion("bazel-bootstrap"), nginxVersion: packageVersion("nginx"),
		snapshot: snap, snapshotFiles: nfiles,
	})
	writeRemoteReport(r, m, pipes, rx)
	r.addCheck(true, "bazel: one file changed, only that image's rules_repro actions re-ran",
		"%s, in each of %d run(s)", strings.Join(repro.expectIncr, ", "), len(repro.incr))
	return nil
}

type bazelExtras struct {
	changed                        string
	genTime, serverStart, analysis time.Duration
	helperCold, helperWarm         time.Duration
	uploaded                       map[string][2]int64
	logDir                         string
	bazelVersion, nginxVersion     string
	snapshot                       string
	snapshotFiles                  int
}

func countEqual(a, b map[int]string) int {
	n := 0
	for k, v := range a {
		if b[k] == v && v != "" {
			n++
		}
	}
	return n
}

func writeBazelReport(e *env, r *report, m monoSpec, pipes []*bazelPipeline, x bazelExtras) {
	repro, gen := pipes[0], pipes[1]
	bsdtarVersion := strings.Join(strings.Fields(firstLine(e.tools["bsdtar"], "--version"))[:2], " ")
	r.printf("A monorepo generated by the benchmark (splitmix64, the same bytes on every machine): %d images on one base image, each with two common layers and its own application layer. ", m.images)
	r.printf("Base layer %s in %d files (half text, half incompressible); common layers of %s of source-like text in %d files and %s of incompressible data in %d files; per image an application layer of %s in %d files (half text, half incompressible, different in every image). ",
		sizeText(m.base.bytes), m.base.files, sizeText(m.runtime.bytes), m.runtime.files, sizeText(m.assets.bytes), m.assets.files, sizeText(m.app.bytes), m.app.files)
	r.printf("Both pipelines are in the same workspace, read the same source files and run in the same Bazel server, one after the other:\n\n")
	r.printf("- **rules_repro**: `repro_layer(srcs = glob(...))` (gzip), `repro_image` on `//base:image` (itself a `repro_image` of the base layer) with the two common layers and its own, and a `repro_push` per image (built, never run; its repository is on 127.0.0.1). The targets are every `:image` (whose default output is its digest and descriptor; the OCI layout is the `layout` output group, not built here) and every `:push`.\n")
	r.printf("- **genrule: bsdtar + crane**, the tools rules_oci relies on, both inputs of the actions (copied into the workspace, as a toolchain would provide them). A layer is `bsdtar --uid 0 --gid 0 --numeric-owner --options gzip:!timestamp -H -s '|^PKG/||' -czf $@ $(SRCS)`, the normalization %s offers: it can neither sort entries nor clamp mtimes, so the sources' mtimes go into the tar. ", bsdtarVersion)
	r.printf("crane %s cannot take a base image from a file: `crane append -b` and `crane mutate` pull it from a registry (`crane append -b ./base.tar` fails with `Get \"https://index.docker.io/v2/\"`). ", craneVersion)
	r.printf("So the base is `crane append --oci-empty-base -f base.tar.gz -o base.tar`, and each image action does what rules_oci 1.x's `oci_image` did: it starts `crane registry serve` on the loopback of its sandbox, `crane push`es the base there and writes the image with `crane mutate --append runtime --append assets --append app --entrypoint ... --env ... -o image.tar` (a `docker load` tarball). The targets are every `:gr_image`.\n\n")
	r.printf("Bazel %s (Debian `bazel-bootstrap`), `--host_jvm_args=-Xmx1g`, the offline flags of `e2e/bazel/setup.sh` (linux-sandbox, `--incompatible_strict_action_env`), no disk cache; rules_repro under compatibility version 2 (the workspace's `.bazelrc`), as the README advises for remote builds. ", x.bazelVersion)
	r.printf("*Cold* is `bazel clean` then a build: outputs and action cache are gone, and Bazel loads and analyzes again (see *Analysis* below); the server and the external repositories, among them the rules_repro helper (its one-time build is measured separately, below), are kept. ")
	r.printf("rules_repro comes from a copy of the working tree taken at the start (%d files, in `%s`), so that edits made while the benchmark runs cannot invalidate its builds halfway. ", x.snapshotFiles, x.snapshot)
	r.printf("*Spawns run* counts the actions Bazel executed (remote cache hits apart), from `--execution_log_json_file`; Bazel's own summary line of each build is below. ")
	r.printf("*Downloaded* is what nginx (%s, the HTTP remote cache, started by `e2e/lib/services.sh`) sent, from its access log ($body_bytes_sent). ", x.nginxVersion)
	if e.runs > 1 {
		r.printf("Cold builds run in %d rounds (median; each round builds one pipeline, then the other); no-op and one-file builds %d times (median); remote-cache builds once. ", e.runs, e.runs)
	} else {
		r.printf("Every build runs once. ")
	}
	r.printf("**Ratios are rules_repro ÷ genrule: below 1.00× rules_repro is faster or downloads less.**\n\n")

	type cell struct {
		wall        time.Duration
		local, hits int
		dl          int64
		hasDL       bool
	}
	one := func(f func(p *bazelPipeline) buildResult, dl bool) func(p *bazelPipeline) cell {
		return func(p *bazelPipeline) cell {
			res := f(p)
			return cell{res.wall, res.local, res.hits, res.traffic.bytes(), dl}
		}
	}
	rows := []struct {
		name string
		get  func(p *bazelPipeline) cell
	}{
		{"Cold build after `bazel clean`", func(p *bazelPipeline) cell {
			return cell{wall: medianWall(p.colds), local: p.cold.local}
		}},
		{"No-op rebuild", func(p *bazelPipeline) cell {
			return cell{wall: medianWall(p.noop), local: p.noop[len(p.noop)-1].local}
		}},
		{"One file of image " + m.imageName(m.changeAt) + " changed", func(p *bazelPipeline) cell {
			return cell{wall: medianWall(p.incr), local: p.incr[len(p.incr)-1].local}
		}},
		{"Cold build filling an empty remote cache (uploads)", one(func(p *bazelPipeline) buildResult { return p.fill }, false)},
		{"After `bazel clean`, from the remote cache (`--remote_download_outputs=all`, the default)", one(func(p *bazelPipeline) buildResult { return p.hit }, true)},
		{"Push-only flow after `bazel clean`, `--remote_download_minimal`", one(func(p *bazelPipeline) buildResult { return p.minimal }, true)},
		{"Push-only flow after `bazel clean`, `--remote_download_toplevel`", one(func(p *bazelPipeline) buildResult { return p.toplevel }, true)},
		{"Push-only flow after `bazel clean`, `--remote_download_outputs=all`", one(func(p *bazelPipeline) buildResult { return p.pushAll }, true)},
	}
	var table [][]string
	for _, rw := range rows {
		line := []string{rw.name}
		var c [2]cell
		for i, p := range pipes {
			c[i] = rw.get(p)
			d := "—"
			if c[i].hasDL {
				d = mb(c[i].dl)
			}
			line = append(line, seconds(c[i].wall), fmt.Sprint(c[i].local), fmt.Sprint(c[i].hits), d)
		}
		line = append(line, ratio(c[0].wall.Seconds(), c[1].wall.Seconds()))
		if c[0].hasDL && c[1].dl >= 1e6 {
			line = append(line, ratio(float64(c[0].dl), float64(c[1].dl)))
		} else {
			line = append(line, "")
		}
		table = append(table, line)
	}
	r.table([]string{"Build", "rules_repro wall (s)", "spawns run", "cache hits", "downloaded (MB)",
		"genrule wall (s)", "spawns run", "cache hits", "downloaded (MB)", "wall ratio", "download ratio"}, table)

	ru, gu := x.uploaded[repro.id], x.uploaded[gen.id]
	r.printf("The remote cache holds %s MB after the rules_repro fill and %s MB after the genrule fill (%s): rules_repro's outputs hold each blob once (manifests and configs refer to the layer outputs), while each genrule image tarball is a new file holding copies of all its layers. ",
		mb(ru[0]), mb(gu[0]), ratio(float64(ru[0]), float64(gu[0])))
	r.printf("Downloads below 1 MB are action-cache entries only; no ratio is given for them.\n\n")
	if e.runs > 1 {
		r.printf("Cold builds, round by round (s):")
		for _, p := range pipes {
			var w []string
			for _, c := range p.colds {
				w = append(w, seconds(c.wall))
			}
			r.printf(" %s %s;", p.label, strings.Join(w, ", "))
		}
		r.printf(" the rounds alternate the pipelines.\n\n")
	}
	r.printf("The push-only flow builds what a push reads, from the remote cache after `bazel clean`: for rules_repro every `:push` target (its runfiles are the layer blobs, manifests and configs; the layouts are not built), for the genrule pipeline every image tarball (what `crane push` reads). ")
	r.printf("Building is not pushing: `bazel run` of a push needs those files on disk. Files a push reads that were on disk after each flow:\n\n")
	var pushRows [][]string
	for _, p := range pipes {
		row := []string{p.label}
		for _, dl := range []string{"minimal", "toplevel", "all"} {
			c := p.pushInputs[dl]
			row = append(row, fmt.Sprintf("%d of %d", c[0], c[1]))
		}
		pushRows = append(pushRows, row)
	}
	r.table([]string{"Pipeline", "minimal", "toplevel", "all"}, pushRows)
	if c := repro.pushInputs["toplevel"]; c[0] < c[1] {
		r.printf("With `--remote_download_toplevel`, Bazel %s leaves the runfiles of the `:push` targets as dangling symlinks, so `bazel run //images/%s:push` fails (`repro push: image descriptor: open push.files/0/image.descriptor.json: no such file or directory`): Bazel before 6.3.0 downloads only the runfiles listed in `files` (bazelbuild/bazel#18249, fixed by #18446 in 6.3.0), which `repro_push` is meant to do for every file (a regression if this shows). ", x.bazelVersion, m.imageName(1))
		r.printf("With `--remote_download_minimal`, `bazel run` fails in any case on Bazel 4.2.3 (e2e/bazel/FINDINGS.md).\n\n")
	}

	// Where the cold build's time goes.
	r.printf("### Where a cold build's time goes\n\n")
	r.printf("From `--profile` of the last cold build of each pipeline: the time before the first action (loading, analysis, and preparing the execution), the execution phase, and the time of the actions summed (on %d cores; the summed time over the execution phase is how many actions ran side by side on average).\n\n", runtime.NumCPU())
	var profRows [][]string
	for _, p := range pipes {
		pr := p.coldProfile
		var kinds []string
		for k := range pr.actions {
			kinds = append(kinds, k)
		}
		sort.Slice(kinds, func(i, j int) bool { return pr.actions[kinds[i]] > pr.actions[kinds[j]] })
		var parts []string
		for _, k := range kinds {
			if pr.actions[k] < 50*time.Millisecond {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s ×%d: %ss", k, pr.counts[k], seconds(pr.actions[k])))
		}
		par := "—"
		if pr.execution > 0 {
			par = fmt.Sprintf("%.2f", pr.total.Seconds()/pr.execution.Seconds())
		}
		profRows = append(profRows, []string{p.label, seconds(p.cold.wall), seconds(pr.analysis), seconds(pr.execution), seconds(pr.total), par, strings.Join(parts, "; ")})
	}
	r.table([]string{"Pipeline", "Wall (s)", "Before the first action (s)", "Execution phase (s)", "Action time summed (s)", "Actions in parallel", "By kind"}, profRows)

	// One file changed.
	r.printf("### One file changed\n\n`%s` got a line appended (a different line in each run), then the same targets were built again. Spawns that ran, in the last run:\n\n", x.changed)
	var incrRows [][]string
	for _, p := range pipes {
		last := p.incr[len(p.incr)-1]
		got := spawnSummary(last.spawns)
		verdict := "yes"
		for _, res := range p.incr {
			if !sameMultiset(spawnSummary(res.spawns), p.expectIncr) {
				verdict = "**no: other actions ran**"
			}
		}
		incrRows = append(incrRows, []string{p.label, seconds(medianWall(p.incr)), fmt.Sprint(len(got)), "`" + strings.Join(got, "`, `") + "`", verdict})
	}
	r.table([]string{"Pipeline", "Wall (s)", "Spawns", "Which (mnemonic and target)", "Only that image's actions?"}, incrRows)

	// Remote cache details.
	r.printf("### Remote cache traffic\n\n")
	r.printf("AC is the action cache (one lookup per action), CAS the content-addressed store (outputs). The cache stores each content once; a build downloads each output file, so an output that copies other outputs' bytes (as an OCI layout copies the layer blobs) is downloaded again: rules_repro's default outputs do not (the layouts are an output group), so a rebuild from the cache downloads about what the cache holds.\n\n")
	var rcRows [][]string
	for _, p := range pipes {
		up := x.uploaded[p.id]
		for _, s := range []struct {
			name string
			res  buildResult
		}{{"fill (cold)", p.fill}, {"rebuild, download all", p.hit}, {"push-only, minimal", p.minimal}, {"push-only, toplevel", p.toplevel}, {"push-only, all", p.pushAll}} {
			t := s.res.traffic
			upl := ""
			if s.name == "fill (cold)" {
				upl = fmt.Sprintf("%s MB in %d entries", mb(up[0]), up[1])
			}
			rcRows = append(rcRows, []string{p.label + ", " + s.name, seconds(s.res.wall), fmt.Sprint(s.res.hits), fmt.Sprint(s.res.local),
				fmt.Sprintf("%d / %d", t.acHits, t.acMisses), fmt.Sprint(t.casGets), fmt.Sprintf("%.3f", float64(t.acBytes)/1e6), mb(t.casBytes), upl})
		}
	}
	r.table([]string{"Build", "Wall (s)", "Remote cache hits", "Spawns run", "AC lookups hit / miss", "CAS downloads", "AC MB", "CAS MB", "Stored in the cache"}, rcRows)

	// Reproducibility.
	r.printf("### Reproducibility\n\n")
	r.printf("Image digests (rules_repro: the `.digest` output; genrule: `crane digest --tarball`) of the cold build compared with those of the build that filled the remote cache (the same sources, built again after `bazel clean`), and with a build of image %s after its source files were touched (the same bytes with new mtimes, as in another checkout; after `bazel clean`, without cache).\n\n", m.imageName(m.changeAt))
	var repRows [][]string
	for _, p := range pipes {
		same := countEqual(p.coldDigests, p.fillDigests)
		touched := "same digest"
		if !p.touchedSame {
			touched = fmt.Sprintf("**different**: %s, then %s", shortDigest(p.touchedDigests[0]), shortDigest(p.touchedDigests[1]))
		}
		repRows = append(repRows, []string{p.label, fmt.Sprintf("%d of %d", same, m.images), touched})
	}
	r.table([]string{"Pipeline", "Same digest in two builds", "Sources touched (new mtimes)"}, repRows)
	if !gen.touchedSame {
		r.printf("The genrule layers take the sources' mtimes (bsdtar cannot clamp them), so the same commit checked out at another time gives other digests. Bazel's action keys hash contents, not mtimes: such a checkout gets cache hits for the outputs of the first one, and which bytes an image has depends on which machine filled the cache first.\n\n")
	}

	// One-time costs.
	r.printf("### One-time costs (not in the builds above)\n\n")
	var otRows [][]string
	otRows = append(otRows, []string{"Generating the monorepo's sources (cached between runs by their stamps)", seconds(x.genTime)})
	otRows = append(otRows, []string{"Bazel server start (`bazel info`)", seconds(x.serverStart)})
	if x.helperCold > 0 {
		otRows = append(otRows, []string{"rules_repro helper: the repository rule runs `go build` with an empty Go build cache (`GOCACHE=<empty> bazel sync --only=repro_toolchains_linux_" + runtime.GOARCH + "`; the modules and the Go release that GOTOOLCHAIN names were already on the machine)", seconds(x.helperCold)})
	}
	otRows = append(otRows, []string{"rules_repro helper: the same with a warm Go build cache", seconds(x.helperWarm)})
	otRows = append(otRows, []string{"Loading and analysis of both pipelines (`bazel build --nobuild`)", seconds(x.analysis)})
	r.table([]string{"Step", "Wall (s)"}, otRows)

	// Bazel's summaries.
	r.printf("### Bazel's summary of each build\n\n")
	var sumRows [][]string
	for _, p := range pipes {
		add := func(name string, res buildResult) {
			sumRows = append(sumRows, []string{p.label + ", " + name, "`" + res.processes + "`", "`" + res.analyzed + "`"})
		}
		add("cold", p.cold)
		add("no-op", p.noop[len(p.noop)-1])
		add("one file changed", p.incr[len(p.incr)-1])
		add("fill remote cache", p.fill)
		add("from remote cache", p.hit)
		add("push-only, minimal", p.minimal)
		add("push-only, toplevel", p.toplevel)
		add("push-only, all", p.pushAll)
	}
	r.table([]string{"Build", "Processes", "Analysis"}, sumRows)
	r.printf("*internal* processes are Bazel's own (file writes, runfiles trees), not spawns. Logs of every Bazel command, with its execution log: `%s`.\n\n", x.logDir)

	// Targets.
	noop := 0
	for _, res := range repro.noop {
		noop += res.local
	}
	r.addCheck(noop == 0, "bazel: rules_repro no-op rebuild runs no action", "%d spawn(s) in %d run(s)", noop, len(repro.noop))
	genIncrOK := true
	for _, res := range gen.incr {
		genIncrOK = genIncrOK && sameMultiset(spawnSummary(res.spawns), gen.expectIncr)
	}
	r.addCheck(genIncrOK, "bazel: one file changed, only that image's genrule actions re-ran (baseline)",
		"expected %s; last run: %s", strings.Join(gen.expectIncr, ", "), strings.Join(spawnSummary(gen.incr[len(gen.incr)-1].spawns), ", "))
	r.addCheck(repro.hit.local == 0 && repro.hit.hits == repro.cold.local, "bazel: after bazel clean every rules_repro action is a remote cache hit",
		"%d hits, %d spawns run, %d spawns in the cold build", repro.hit.hits, repro.hit.local, repro.cold.local)
	minB, allB := repro.minimal.traffic.bytes(), repro.hit.traffic.bytes()
	r.addCheck(repro.minimal.local == 0 && float64(minB) <= 0.01*float64(allB), "bazel: rules_repro push-only flow with --remote_download_minimal downloads ≤ 1% of the full rebuild from the cache",
		"%s MB vs %s MB (%s), %d CAS downloads, %d spawns run", mb(minB), mb(allB), ratio(float64(minB), float64(allB)), repro.minimal.traffic.casGets, repro.minimal.local)
	tl := repro.pushInputs["toplevel"]
	r.addCheck(tl[1] > 0 && tl[0] == tl[1], "bazel: rules_repro push runfiles on disk after --remote_download_toplevel (what bazel run needs)",
		"%d of %d files present", tl[0], tl[1])
	r.addCheck(countEqual(repro.coldDigests, repro.fillDigests) == m.images && repro.touchedSame, "bazel: rules_repro image digests equal across builds and mtimes",
		"%d of %d equal after bazel clean; sources touched: %s", countEqual(repro.coldDigests, repro.fillDigests), m.images, map[bool]string{true: "same", false: "different"}[repro.touchedSame])
	// Issue 15 item 4: a rebuild from the cache downloads each byte once,
	// and is no slower than the genrule pipeline's.
	held := x.uploaded[repro.id][0]
	r.addCheck(held > 0 && float64(allB) <= 1.05*float64(held), "bazel: rules_repro rebuild from the remote cache downloads ≤ 1.05× the bytes the cache holds (each byte once)",
		"%s MB downloaded, %s MB in the cache (%s)", mb(allB), mb(held), ratio(float64(allB), float64(held)))
	r.addCheck(repro.hit.wall <= gen.hit.wall, "bazel: rules_repro rebuild from the remote cache ≤ 1.0× the genrule pipeline's",
		"%ss vs %ss (%s)", seconds(repro.hit.wall), seconds(gen.hit.wall), ratio(repro.hit.wall.Seconds(), gen.hit.wall.Seconds()))
	rc, gc := medianWall(repro.colds), medianWall(gen.colds)
	r.addCheck(rc < gc, "bazel: rules_repro cold build faster than the genrule pipeline",
		"%ss vs %ss (%s)", seconds(rc), seconds(gc), ratio(rc.Seconds(), gc.Seconds()))
	r.addCheck(medianWall(repro.incr) < medianWall(gen.incr), "bazel: rules_repro one-file rebuild faster than the genrule pipeline",
		"%ss vs %ss (%s)", seconds(medianWall(repro.incr)), seconds(medianWall(gen.incr)), ratio(medianWall(repro.incr).Seconds(), medianWall(gen.incr).Seconds()))
}

// sizeText is a size in MB with one decimal below 10 MB.
func sizeText(b int64) string {
	if b < 10e6 {
		return fmt.Sprintf("%.1f MB", float64(b)/1e6)
	}
	return mbCount(b)
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return "`" + d[:19] + "…`"
	}
	return "`" + d + "`"
}
