package sourcepolicy

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/sourcepolicy"
	spb "github.com/moby/buildkit/sourcepolicy/pb"
)

// TestExportedPolicyFile checks a policy file written by `repro policy
// export` (from a lockfile) against BuildKit's own parser and engine, and
// requires `repro policy eval` to decide every case the same way. It runs
// from e2e/test_pins.sh, which sets:
//
//	REPRO_EXPORTED_POLICY  the exported policy file
//	REPRO_POLICY_CASES     identifiers to evaluate, one per line
//	REPRO_BIN              the repro binary
func TestExportedPolicyFile(t *testing.T) {
	file, casesFile, bin := os.Getenv("REPRO_EXPORTED_POLICY"), os.Getenv("REPRO_POLICY_CASES"), os.Getenv("REPRO_BIN")
	if file == "" || casesFile == "" || bin == "" {
		t.Skip("run by e2e/test_pins.sh (REPRO_EXPORTED_POLICY, REPRO_POLICY_CASES, REPRO_BIN)")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	bp, err := buildctlParse(data)
	if err != nil {
		t.Fatalf("BuildKit does not accept the exported policy: %v\n%s", err, data)
	}
	if len(bp.Rules) == 0 {
		t.Fatalf("BuildKit reads no rules from\n%s", data)
	}
	engine := sourcepolicy.NewEngine([]*spb.Policy{bp})
	raw, err := os.ReadFile(casesFile)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, id := range strings.Fields(string(raw)) {
		n++
		// BuildKit sees image references after llb.Image normalized them.
		bkID := id
		if ref, ok := strings.CutPrefix(id, "docker-image://"); ok || !strings.Contains(id, "://") {
			if !ok {
				ref = id
			}
			if bkID, err = llbImageIdentifier(ref); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
		}
		op := &pb.SourceOp{Identifier: bkID}
		_, bkErr := engine.Evaluate(context.Background(), op)
		bkDenied := errors.Is(bkErr, sourcepolicy.ErrSourceDenied)
		if bkErr != nil && !bkDenied {
			t.Errorf("%s: BuildKit: %v", id, bkErr)
			continue
		}

		cmd := exec.Command(bin, "policy", "eval", "--policy", file, id)
		out, runErr := cmd.Output()
		var got struct {
			Identifier string            `json:"identifier"`
			Attrs      map[string]string `json:"attrs"`
			Denied     bool              `json:"denied"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: repro policy eval printed %q (%v)", id, out, runErr)
		}
		if (runErr != nil) != got.Denied {
			t.Errorf("%s: repro policy eval exit status %v but denied=%v", id, runErr, got.Denied)
		}
		bkAttrs := op.Attrs
		if bkAttrs == nil {
			bkAttrs = map[string]string{}
		}
		if got.Denied != bkDenied || got.Identifier != op.Identifier || !maps.Equal(got.Attrs, bkAttrs) {
			t.Errorf("%s:\nrepro:    denied=%v %q %v\nBuildKit: denied=%v %q %v (%v)", id, got.Denied, got.Identifier, got.Attrs, bkDenied, op.Identifier, bkAttrs, bkErr)
			continue
		}
		t.Logf("%s -> denied=%v %s", id, got.Denied, got.Identifier)
	}
	if n == 0 {
		t.Fatal("no cases")
	}
}
