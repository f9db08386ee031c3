package publish

import (
	"bytes"
	"context"
	"strings"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rules-repro/rules_repro/tools/oci"
)

// outcomes is what a push did (or a dry run says it would do) with the
// blobs.
func outcomes(r *PushResult) [7]int64 {
	return [7]int64{int64(r.Blobs), int64(r.Pushed), r.PushedBytes, int64(r.Existed), int64(r.Mounted), int64(r.Copied), r.CopiedBytes}
}

// TestDryRunPlanIsThePush: the dry run and the push decide with the same
// planner, so what a dry run says is what the push then does: upload
// from the build, exists, copy from a source on another registry, and a
// blob that is nowhere.
func TestDryRunPlanIsThePush(t *testing.T) {
	ctx := context.Background()
	dst, src := startInprocess(t), startInprocess(t)
	root, set, _ := smallImage(t, t.TempDir(), "planned layer")
	push := func(t *testing.T, host string, set *oci.BlobSet, sources ...string) (dry, real *PushResult) {
		t.Helper()
		root := root
		var out bytes.Buffer
		o := PushOptions{Client: dst.c, Repository: host + "/app", Tags: []string{"v1"}, Root: root, Blobs: set, Sources: sources, Progress: NewProgress(&out, false)}
		o.DryRun = true
		dry, err := Push(ctx, o)
		if err != nil {
			t.Fatalf("dry run: %v\n%s", err, out.String())
		}
		o.DryRun = false
		if real, err = Push(ctx, o); err != nil {
			t.Fatalf("push: %v\n%s", err, out.String())
		}
		if outcomes(dry) != outcomes(real) {
			t.Errorf("the dry run said %+v, the push did %+v\n%s", dry, real, out.String())
		}
		return dry, real
	}
	// Both blobs uploaded, then both there.
	if _, real := push(t, dst.host, set); real.Pushed != 2 {
		t.Errorf("first push: %+v", real)
	}
	if _, real := push(t, dst.host, set); real.Existed != 2 {
		t.Errorf("second push: %+v", real)
	}

	// A build without its layer, which a source on another registry has
	// (the in-memory registry shares blobs between repositories: so a new
	// image), and then one without its layer that nothing has.
	shallow := func(content string, pushTo string) (specs.Descriptor, *oci.BlobSet, specs.Descriptor) {
		root, set, _ := smallImage(t, t.TempDir(), content)
		m, err := set.Bytes(root.Digest)
		if err != nil {
			t.Fatal(err)
		}
		man, err := oci.ParseManifest(m)
		if err != nil {
			t.Fatal(err)
		}
		if pushTo != "" {
			if _, err := Push(ctx, PushOptions{Client: src.c, Repository: pushTo, Root: root, Blobs: set}); err != nil {
				t.Fatal(err)
			}
		}
		cfg, _ := set.Bytes(man.Config.Digest)
		s := oci.NewBlobSet()
		s.AddBytes(m)
		s.AddBytes(cfg)
		return root, s, man.Layers[0]
	}
	root, set, layer := shallow("copied layer", src.host+"/base")
	if _, real := push(t, dst.host, set, src.host+"/base"); real.Copied != 1 || real.CopiedBytes != layer.Size || real.Pushed != 1 {
		t.Errorf("copy push: %+v", real)
	}
	root, set, layer = shallow("layer of nowhere", "")
	for _, dry := range []bool{true, false} {
		var out bytes.Buffer
		_, err := Push(ctx, PushOptions{Client: dst.c, Repository: dst.host + "/nowhere", Root: root, Blobs: set, DryRun: dry, Sources: []string{src.host + "/base"}, Progress: NewProgress(&out, false)})
		if err == nil || !strings.Contains(err.Error(), layer.Digest.String()) || !strings.Contains(out.String()+err.Error(), src.host+"/base") {
			t.Errorf("dry run %v of a build without its layer that no source has: %v\n%s", dry, err, out.String())
		}
	}
}
