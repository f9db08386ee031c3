package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// buildbarnCluster is a remote execution cluster started with
// e2e/lib/buildbarn.sh (storage, frontend, scheduler, one worker with its
// runner), fresh for every pipeline so that neither finds the other's
// inputs in the cache.
type buildbarnCluster struct {
	lib     string // e2e/lib
	dir     string
	flags   []string // buildbarn_bazel_flags
	metrics string   // the frontend's Prometheus endpoint
}

func (c *buildbarnCluster) bash(script string) ([]byte, error) {
	out, err := exec.Command("bash", "-c", `source "$1/services.sh" && source "$1/buildbarn.sh" && `+script, "bash", c.lib, c.dir).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		return nil, fmt.Errorf("e2e/lib/buildbarn.sh: %v: %s", err, msg)
	}
	return out, nil
}

// startBuildbarn builds Buildbarn if it is not cached yet (a few
// CPU-minutes, once per machine) and starts an empty cluster in dir.
func startBuildbarn(lib, dir string) (*buildbarnCluster, error) {
	c := &buildbarnCluster{lib: lib, dir: dir}
	out, err := c.bash(`buildbarn_stop "$2" && rm -rf "$2" && buildbarn_start "$2" >/dev/null && cat "$2/metrics.url" && buildbarn_bazel_flags "$2"`)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	c.metrics, c.flags = lines[0], lines[1:]
	return c, nil
}

func (c *buildbarnCluster) stop() error {
	_, err := c.bash(`buildbarn_stop "$2"`)
	return err
}

// casTraffic is what Bazel sent to and received from the cluster: the blob
// sizes the frontend forwarded (buildbarn_blobstore_blob_access_operations_
// blob_size_bytes_sum of its gRPC backends, CAS and action cache).
type casTraffic struct{ up, down int64 }

func (c *buildbarnCluster) traffic() (casTraffic, error) {
	resp, err := http.Get(c.metrics)
	if err != nil {
		return casTraffic{}, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return casTraffic{}, err
	}
	return parseBuildbarnMetrics(buf.Bytes())
}

func parseBuildbarnMetrics(b []byte) (casTraffic, error) {
	const name = "buildbarn_blobstore_blob_access_operations_blob_size_bytes_sum{"
	var t casTraffic
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || !strings.Contains(line, `backend_type="grpc"`) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return t, fmt.Errorf("metrics line %q: %w", line, err)
		}
		switch {
		case strings.Contains(line, `operation="Get"`):
			t.down += int64(v)
		case strings.Contains(line, `operation="Put"`):
			t.up += int64(v)
		}
	}
	return t, sc.Err()
}

// remoteRun is one pipeline's builds on the cluster.
type remoteRun struct {
	err                     error // the pipeline could not build on the cluster
	cold, noop, incr, again buildResult
	traffic                 [4]casTraffic // per build, in that order
	// Images whose digest differs from the local cold build's, after the
	// cold build on the cluster and after the rebuild from its cache.
	coldDiff, againDiff []string
}

// runRemoteExec builds each pipeline on a fresh cluster: cold after `bazel
// clean`, no-op, one file changed (change(p) writes it, restore puts it
// back), and after `bazel clean` again, every action from the cluster's
// cache (what a second checkout gets).
func runRemoteExec(e *env, b *bazelWS, m monoSpec, lib, dir string, pipes []*bazelPipeline, every []int,
	change func(p *bazelPipeline) error, restore func() error) (map[string]*remoteRun, error) {
	runs := map[string]*remoteRun{}
	for _, p := range pipes {
		c, err := startBuildbarn(lib, dir)
		if err != nil {
			return nil, err
		}
		run := &remoteRun{}
		runs[p.id] = run
		run.err = func() error {
			steps := []struct {
				name   string
				before func() error
				res    *buildResult
			}{
				{"cold", b.clean, &run.cold},
				{"noop", nil, &run.noop},
				{"incremental", func() error { return change(p) }, &run.incr},
				{"from-cache", func() error {
					if err := restore(); err != nil {
						return err
					}
					return b.clean()
				}, &run.again},
			}
			for i, s := range steps {
				if s.before != nil {
					if err := s.before(); err != nil {
						return err
					}
				}
				t0, err := c.traffic()
				if err != nil {
					return err
				}
				if *s.res, err = b.build(p.id+"-remote-exec-"+s.name, c.flags, p.targets); err != nil {
					return err
				}
				t1, err := c.traffic()
				if err != nil {
					return err
				}
				run.traffic[i] = casTraffic{up: t1.up - t0.up, down: t1.down - t0.down}
				if i == 0 || i == 3 {
					d, err := p.digests(every)
					if err != nil {
						return err
					}
					diff := diffDigests(m, d, p.coldDigests)
					if i == 0 {
						run.coldDiff = diff
					} else {
						run.againDiff = diff
					}
				}
			}
			return nil
		}()
		if err := restore(); err != nil {
			c.stop()
			return nil, err
		}
		if err := c.stop(); err != nil {
			return nil, err
		}
		if run.err != nil {
			e.logf("bazel: %s on Buildbarn failed: %v", p.label, run.err)
		}
	}
	return runs, nil
}

// diffDigests lists the images whose digests differ: "name got want".
func diffDigests(m monoSpec, got, want map[int]string) []string {
	var diff []string
	for i := 1; i <= m.images; i++ {
		if got[i] != want[i] {
			diff = append(diff, fmt.Sprintf("%s %s (local %s)", m.imageName(i), shortDigest(got[i]), shortDigest(want[i])))
		}
	}
	return diff
}

// writeRemoteReport adds the remote execution table: each build on the
// cluster against the same build locally (the tables above) and against
// the other pipeline on the cluster.
func writeRemoteReport(r *report, m monoSpec, pipes []*bazelPipeline, runs map[string]*remoteRun) {
	repro, gen := pipes[0], pipes[1]
	r.printf("**Remote execution on Buildbarn** (`e2e/lib/buildbarn.sh`: bb_storage, a bb_storage frontend, bb_scheduler, one bb_worker with a bb_runner and a native build directory, concurrency 2, all on this machine's 127.0.0.1; Bazel with `%s`). ", remoteFlagsText)
	r.printf("Each pipeline gets a fresh, empty cluster. *Cold* is `bazel clean` and a build that uploads its inputs and executes every action on the worker; *from the cache* is `bazel clean` again and a rebuild where every action is an action-cache hit, as a second checkout would see it. ")
	r.printf("*Up* and *down* are the CAS and action-cache bytes the frontend forwarded for Bazel (its `buildbarn_blobstore_blob_access_operations_blob_size_bytes_sum` metrics). The worker shares the machine's 2 cores with Bazel, so remote times include Buildbarn's own work, not a faster machine. Every build runs once.\n\n")
	local := func(p *bazelPipeline, row int) time.Duration {
		switch row {
		case 0:
			return medianWall(p.colds)
		case 1:
			return medianWall(p.noop)
		case 2:
			return medianWall(p.incr)
		}
		return 0
	}
	names := []string{"Cold build after `bazel clean`", "No-op rebuild", "One file of image " + m.imageName(m.changeAt) + " changed", "After `bazel clean`, every action from the cluster's cache (a second checkout)"}
	var rows [][]string
	for i, name := range names {
		row := []string{name}
		var walls [2]time.Duration
		ok := true
		for j, p := range []*bazelPipeline{repro, gen} {
			run := runs[p.id]
			if run == nil || run.err != nil {
				row = append(row, "failed", "", "", "", "")
				ok = false
				continue
			}
			res := []buildResult{run.cold, run.noop, run.incr, run.again}[i]
			t := run.traffic[i]
			walls[j] = res.wall
			vsLocal := ""
			if l := local(p, i); l > 0 {
				vsLocal = ratio(res.wall.Seconds(), l.Seconds())
			}
			row = append(row, seconds(res.wall), fmt.Sprint(res.local), mb(t.up), mb(t.down), vsLocal)
		}
		if ok {
			row = append(row, ratio(walls[0].Seconds(), walls[1].Seconds()))
		} else {
			row = append(row, "")
		}
		rows = append(rows, row)
	}
	r.table([]string{"Build on the cluster", "rules_repro wall (s)", "spawns run", "up (MB)", "down (MB)", "vs local",
		"genrule wall (s)", "spawns run", "up (MB)", "down (MB)", "vs local", "rules_repro ÷ genrule"}, rows)
	for _, p := range pipes {
		if run := runs[p.id]; run != nil && run.err != nil {
			r.printf("%s could not build on the cluster: `%s`\n\n", p.label, firstLineOf(run.err.Error()))
		}
	}
	if run := runs[repro.id]; run != nil && run.err == nil {
		r.addCheck(len(run.coldDiff) == 0, "bazel: rules_repro on Buildbarn: every image digest equals the local build's",
			"images that differ: [%s]", strings.Join(run.coldDiff, "; "))
		r.addCheck(run.again.local == 0 && len(run.againDiff) == 0, "bazel: rules_repro on Buildbarn: after bazel clean every action comes from the cluster's cache, with the local build's digests",
			"%d spawns run, %d hits, images that differ: [%s] (%s)", run.again.local, run.again.hits, strings.Join(run.againDiff, "; "), run.again.processes)
		remote := 0
		for _, s := range run.cold.spawns {
			if strings.HasPrefix(s.Mnemonic, "Repro") && s.Runner == "remote" {
				remote++
			}
		}
		r.addCheck(remote > 0, "bazel: rules_repro's image actions execute on the Buildbarn worker", "%d Repro* spawns ran remotely in the cold build (%s)", remote, run.cold.processes)
	}
}

// remoteFlagsText is what buildbarn_bazel_flags prints, for the report.
const remoteFlagsText = "--remote_executor=grpc://127.0.0.1:PORT --remote_instance_name=rules-repro --spawn_strategy=remote --remote_default_exec_properties=OSFamily=linux"

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
