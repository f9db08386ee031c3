package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stage is one process of a measured command. A command is one stage or a
// pipeline of stages, each stage's stdout connected to the next one's stdin
// by a kernel pipe (no copying through this program).
type stage struct {
	argv []string
	dir  string
}

// command is what is measured: the stages, plus optional files for the
// first stage's stdin and the last stage's stdout.
type command struct {
	stages []stage
	stdin  string
	stdout string
}

// String renders the command as a shell line, for the report and errors.
func (c command) String() string {
	var parts []string
	for _, s := range c.stages {
		parts = append(parts, strings.Join(s.argv, " "))
	}
	out := strings.Join(parts, " | ")
	if c.stdin != "" {
		out += " < " + c.stdin
	}
	if c.stdout != "" {
		out += " > " + c.stdout
	}
	return out
}

// sample is one measurement. For a pipeline, cpu is the sum over the
// stages and rss the largest stage's peak (the stages run concurrently, so
// the sum of their peaks would be an upper bound of the pipeline's).
type sample struct {
	wall time.Duration
	cpu  time.Duration // user + system
	rss  int64         // peak resident set size in bytes
}

// run starts every stage, waits for all of them, and reads each child's
// resource usage from wait4 (os.ProcessState.SysUsage): wall and CPU time.
//
// The peak RSS comes from GNU time wrapped around each stage (`time -f %M`),
// not from our own wait4: Go starts children with vfork, and Linux carries
// the parent's peak RSS into the child's ru_maxrss at exec, so every child
// of this (large) program would report at least its size. GNU time forks
// from a 1 MiB process, which is the floor of what it reports.
func (e *env) run(c command) (sample, error) {
	var closers []*os.File
	closeAll := func() {
		for _, f := range closers {
			f.Close()
		}
		closers = nil
	}
	defer closeAll()
	cmds := make([]*exec.Cmd, len(c.stages))
	stderrs := make([]*bytes.Buffer, len(c.stages))
	rssFiles := make([]string, len(c.stages))
	for i, s := range c.stages {
		rssFiles[i] = filepath.Join(e.work, fmt.Sprintf("rss-%d.txt", i))
		os.Remove(rssFiles[i])
		argv := append([]string{e.tools["time"], "-f", "%M", "-o", rssFiles[i]}, s.argv...)
		cmds[i] = exec.Command(argv[0], argv[1:]...)
		cmds[i].Dir = s.dir
		stderrs[i] = &bytes.Buffer{}
		cmds[i].Stderr = &limitedBuffer{b: stderrs[i], n: 4096}
	}
	if c.stdin != "" {
		f, err := os.Open(c.stdin)
		if err != nil {
			return sample{}, err
		}
		closers = append(closers, f)
		cmds[0].Stdin = f
	}
	if c.stdout != "" {
		f, err := os.Create(c.stdout)
		if err != nil {
			return sample{}, err
		}
		closers = append(closers, f)
		cmds[len(cmds)-1].Stdout = f
	}
	for i := 0; i+1 < len(cmds); i++ {
		r, w, err := os.Pipe()
		if err != nil {
			return sample{}, err
		}
		closers = append(closers, r, w)
		cmds[i].Stdout, cmds[i+1].Stdin = w, r
	}
	start := time.Now()
	for i, cmd := range cmds {
		if err := cmd.Start(); err != nil {
			for _, started := range cmds[:i] {
				started.Process.Kill()
				started.Wait()
			}
			return sample{}, fmt.Errorf("%s: %w", c, err)
		}
	}
	// The children hold their own copies; ours must go so that each reader
	// sees EOF when its writer exits.
	closeAll()
	var s sample
	var errs []string
	for i, cmd := range cmds {
		err := cmd.Wait()
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v: %s", c.stages[i].argv[0], err, strings.TrimSpace(stderrs[i].String())))
		}
		// GNU time's own CPU time is included: a fraction of a millisecond.
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	s.wall = time.Since(start)
	for i, f := range rssFiles {
		kib, err := readRSS(f)
		if err != nil && len(errs) == 0 {
			errs = append(errs, fmt.Sprintf("%s: peak RSS: %v", c.stages[i].argv[0], err))
		}
		s.rss = max(s.rss, kib*1024)
		os.Remove(f)
	}
	if len(errs) > 0 {
		return s, fmt.Errorf("%s failed: %s", c, strings.Join(errs, "; "))
	}
	return s, nil
}

// readRSS reads what `time -f %M -o FILE` wrote: the peak RSS in KiB on
// the last line (a failed command adds a line before it).
func readRSS(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	lines := strings.Fields(strings.TrimSpace(string(b)))
	if len(lines) == 0 {
		return 0, fmt.Errorf("%s is empty", path)
	}
	return strconv.ParseInt(lines[len(lines)-1], 10, 64)
}

type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		l.b.Write(p[:room])
	}
	return len(p), nil
}

// median returns the per-metric median of samples (each metric on its
// own: the median wall time and the median CPU time may come from
// different runs). With an even count it averages the middle two.
func median(samples []sample) sample {
	pick := func(get func(sample) int64) int64 {
		v := make([]int64, len(samples))
		for i, s := range samples {
			v[i] = get(s)
		}
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		n := len(v)
		if n == 0 {
			return 0
		}
		if n%2 == 1 {
			return v[n/2]
		}
		return (v[n/2-1] + v[n/2]) / 2
	}
	return sample{
		wall: time.Duration(pick(func(s sample) int64 { return int64(s.wall) })),
		cpu:  time.Duration(pick(func(s sample) int64 { return int64(s.cpu) })),
		rss:  pick(func(s sample) int64 { return s.rss }),
	}
}
