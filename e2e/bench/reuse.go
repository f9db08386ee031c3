package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

func init() {
	register(section{
		name:  "reuse",
		title: "Layer reuse across commits (compatibility version 2, file_mtime)",
		order: 30,
		run:   runReuseSection,
	})
}

// reuseLayer is one layer of the scenario: files of a given total size,
// random (incompressible, like binaries) or text.
type reuseLayer struct {
	name   string
	files  int
	bytes  int64
	binary bool
}

// The scenario: an image of three layers, as a binary image splits them
// (dependencies, assets, the application). Between the two commits one
// file of the application changes; everything else is the same content.
var reuseLayers = []reuseLayer{
	{"deps", 300, 6 << 20, true},
	{"assets", 200, 2 << 20, false},
	{"app", 10, 200 << 10, true},
}

// Two stamped builds: the commit times that STABLE_SOURCE_DATE_EPOCH takes.
var reuseEpochs = [2]string{"1700000000", "1700086400"}

// runReuseSection builds the scenario's layers for two commits with
// `repro layer --compatibility-version 2`, once with file times from
// SOURCE_DATE_EPOCH (the default) and once with --file-mtime 0, and counts
// the bytes of the second commit's layers whose digest differs from the
// first's: what a push of the second commit uploads.
func runReuseSection(e *env, r *report) error {
	root := filepath.Join(e.work, "reuse")
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	scale := int64(1)
	if e.quick {
		scale = 10
	}
	// Inputs of both commits; the second differs in one file of "app".
	specs := map[[2]int]string{} // {commit, layer} -> spec path
	for commit := 0; commit < 2; commit++ {
		for li, l := range reuseLayers {
			rng := &splitmix64{s: uint64(1000 + li)}
			tg := newTextGen(rng)
			dir := filepath.Join(root, fmt.Sprintf("commit%d", commit), l.name)
			var entries []map[string]any
			per := l.bytes / scale / int64(l.files)
			for i := 0; i < l.files; i++ {
				b := make([]byte, per)
				if l.binary {
					rng.fill(b)
				} else {
					b = tg.fill(b)
				}
				if commit == 1 && l.name == "app" && i == 0 {
					b = append(b, "changed in the second commit\n"...)
				}
				p := filepath.Join(dir, fmt.Sprintf("f%04d", i))
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return err
				}
				if err := os.WriteFile(p, b, 0o644); err != nil {
					return err
				}
				entries = append(entries, map[string]any{"type": "file", "path": fmt.Sprintf("/%s/f%04d", l.name, i), "source": p})
			}
			spec := filepath.Join(dir + ".spec.json")
			data, _ := json.Marshal(map[string]any{"entries": entries})
			if err := os.WriteFile(spec, data, 0o644); err != nil {
				return err
			}
			specs[[2]int{commit, li}] = spec
		}
	}
	type result struct {
		total, reuploaded int64
		changed           int
	}
	settings := []struct{ label, flag string }{
		{"`file_mtime = \"epoch\"` (default: files take SOURCE_DATE_EPOCH)", ""},
		{"`file_mtime = \"0\"`", "0"},
	}
	var rows [][]string
	results := map[string]result{}
	for _, s := range settings {
		var res result
		digests := map[[2]int]string{}
		for commit := 0; commit < 2; commit++ {
			for li, l := range reuseLayers {
				out := filepath.Join(root, fmt.Sprintf("out-%s-%d-%s.tar.gz", s.flag, commit, l.name))
				args := []string{"layer", "--spec", specs[[2]int{commit, li}], "--output", out, "--descriptor", out + ".json",
					"--compatibility-version", "2", "--source-date-epoch", reuseEpochs[commit]}
				if s.flag != "" {
					args = append(args, "--file-mtime", s.flag)
				}
				if err := sh(root, nil, e.repro, args...); err != nil {
					return err
				}
				var d struct {
					Digest string `json:"digest"`
					Size   int64  `json:"size"`
				}
				data, err := os.ReadFile(out + ".json")
				if err != nil {
					return err
				}
				if err := json.Unmarshal(data, &d); err != nil {
					return err
				}
				digests[[2]int{commit, li}] = d.Digest
				if commit == 1 {
					res.total += d.Size
					if d.Digest != digests[[2]int{0, li}] {
						res.changed++
						res.reuploaded += d.Size
					}
				}
			}
		}
		results[s.flag] = res
		rows = append(rows, []string{s.label, fmt.Sprint(len(reuseLayers)), fmt.Sprint(res.total), fmt.Sprint(res.changed), fmt.Sprint(res.reuploaded),
			fmt.Sprintf("%.1f%%", 100*float64(res.reuploaded)/float64(res.total))})
	}
	r.printf("Two stamped builds of the same three layers (dependencies %s MB of binaries, assets %s MB of text, the application %s MB) at the epochs of two commits (%s, %s); the second commit changes one file of the application. A push of the second commit uploads the layers whose digest changed.\n\n",
		mb(reuseLayers[0].bytes/scale), mb(reuseLayers[1].bytes/scale), mb(reuseLayers[2].bytes/scale), reuseEpochs[0], reuseEpochs[1])
	r.table([]string{"Setting (compatibility version 2)", "Layers", "Layer bytes", "Layers changed", "Bytes re-uploaded", "Share"}, rows)
	def, fixed := results[""], results["0"]
	r.addCheck(fixed.changed == 1 && def.changed == len(reuseLayers), "second commit re-upload",
		"file_mtime=0 re-uploads %d layer(s), %d bytes; the default re-uploads %d, %d bytes", fixed.changed, fixed.reuploaded, def.changed, def.reuploaded)
	if fixed.changed != 1 || def.changed != len(reuseLayers) {
		return fmt.Errorf("layer reuse: file_mtime=0 changed %d layers (want 1), the default %d (want %d)", fixed.changed, def.changed, len(reuseLayers))
	}
	return nil
}
