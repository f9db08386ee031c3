package main

import (
	"strings"
	"testing"
	"time"
)

func TestReadExecLog(t *testing.T) {
	// Bazel 4.2.3 writes one pretty-printed object per spawn.
	log := `{
  "commandArgs": ["bazel-out/host/bin/repro", "@bazel-out/x.params"],
  "progressMessage": "Building layer //images/app01:layer",
  "mnemonic": "ReproLayer",
  "runner": "linux-sandbox",
  "listedOutputs": ["bazel-out/k8-fastbuild/bin/images/app01/layer.tar.gz"]
}{
  "progressMessage": "Writing layout of //images/app01:image",
  "mnemonic": "ReproLayout",
  "runner": "remote cache hit",
  "remoteCacheHit": true
}
`
	spawns, err := readExecLog(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if len(spawns) != 2 {
		t.Fatalf("%d spawns, want 2", len(spawns))
	}
	if got := spawns[0].key(); got != "ReproLayer //images/app01:layer" {
		t.Errorf("key %q", got)
	}
	if got := spawnSummary(spawns); len(got) != 1 || got[0] != "ReproLayer //images/app01:layer" {
		t.Errorf("summary without cache hits: %q", got)
	}
	if !spawns[1].RemoteCacheHit || spawns[1].label() != "//images/app01:image" {
		t.Errorf("second spawn %+v", spawns[1])
	}
}

func TestSameMultiset(t *testing.T) {
	if !sameMultiset([]string{"b", "a"}, []string{"a", "b"}) {
		t.Error("order should not matter")
	}
	if sameMultiset([]string{"a", "a"}, []string{"a", "b"}) || sameMultiset([]string{"a"}, []string{"a", "a"}) {
		t.Error("counts should matter")
	}
}

func TestBazelSummaryLines(t *testing.T) {
	out := "(00:40:12) INFO: Analyzed 20 targets (28 packages loaded, 1322 targets configured).\n" +
		"(00:40:17) INFO: Elapsed time: 5.534s, Critical Path: 1.65s\n" +
		"(00:40:17) INFO: 45 processes: 44 remote cache hit, 1 internal.\n"
	if got := lastMatch(processesRE, out); got != "45 processes: 44 remote cache hit, 1 internal." {
		t.Errorf("processes %q", got)
	}
	if got := lastMatch(analyzedRE, out); got != "Analyzed 20 targets (28 packages loaded, 1322 targets configured)" {
		t.Errorf("analyzed %q", got)
	}
	for _, line := range []string{"INFO: 0 processes.", "INFO: 1 process: 1 internal."} {
		if got := lastMatch(processesRE, line); got != strings.TrimPrefix(line, "INFO: ") {
			t.Errorf("%q: got %q", line, got)
		}
	}
}

func TestParseAccessLog(t *testing.T) {
	log := `127.0.0.1 - - [22/Nov/2026:00:34:36 +0000] "GET /ac/2dbb HTTP/1.1" 200 390 "-" "bazel/"
127.0.0.1 - - [22/Nov/2026:00:34:36 +0000] "GET /ac/3089 HTTP/1.1" 404 153 "-" "bazel/"
127.0.0.1 - - [22/Nov/2026:00:34:36 +0000] "GET /cas/03d7 HTTP/1.1" 200 1048576 "-" "bazel/"
127.0.0.1 - - [22/Nov/2026:00:34:36 +0000] "PUT /cas/f334 HTTP/1.1" 201 0 "-" "bazel/"
`
	tr, err := parseAccessLog([]byte(log))
	if err != nil {
		t.Fatal(err)
	}
	want := cacheTraffic{acHits: 1, acMisses: 1, casGets: 1, acBytes: 543, casBytes: 1048576, puts: 1}
	if tr != want {
		t.Errorf("got %+v, want %+v", tr, want)
	}
	if _, err := parseAccessLog([]byte("garbage\n")); err == nil {
		t.Error("a line without a request should be an error")
	}
}

func TestReadProfile(t *testing.T) {
	prof := `{"otherData": {}, "traceEvents": [
{"name": "Launch Blaze", "cat": "build phase marker", "ph": "i", "ts": 1000000},
{"name": "Build artifacts", "cat": "build phase marker", "ph": "i", "ts": 2000000},
{"name": "Building layer //images/app01:layer", "cat": "action processing", "ph": "X", "ts": 2500000, "dur": 1500000},
{"name": "Building layer //base:layer", "cat": "action processing", "ph": "X", "ts": 2600000, "dur": 500000},
{"name": "Complete build", "cat": "build phase marker", "ph": "i", "ts": 6000000}
]}`
	p, err := readProfile(strings.NewReader(prof))
	if err != nil {
		t.Fatal(err)
	}
	if p.execution != 4*time.Second || p.analysis != 1500*time.Millisecond || p.total != 2*time.Second {
		t.Errorf("got %+v", p)
	}
	if p.actions["Building layer :layer"] != 2*time.Second || p.counts["Building layer :layer"] != 2 {
		t.Errorf("by kind: %v %v", p.actions, p.counts)
	}
}
