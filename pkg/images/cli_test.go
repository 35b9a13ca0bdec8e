package images

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runMain(t *testing.T, environ []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, environ, &out, &errb)
	return code, out.String(), errb.String()
}

func TestMainPlanFlagsFromEnvExplicitWins(t *testing.T) {
	cfg := shopfront(t)
	environ := []string{"AGENTLINE_CONFIG=" + cfg, "AGENTLINE_ENV=dev", "AGENTLINE_ONLY=worker,postgres", "AGENTLINE_SLOT=7"}

	code, out, errOut := runMain(t, environ, "plan", "--env", "ai", "--slot", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var p Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("plan output is not JSON: %v\n%s", err, out)
	}
	if got := strings.Join(p.Names(), ","); got != "postgres,worker" {
		t.Errorf("AGENTLINE_ONLY ignored: images %s", got)
	}
	if p.Registry != "registry.shopfront-dev-2.svc.cluster.local:5000" {
		t.Errorf("explicit --env/--slot did not win over AGENTLINE_ENV/SLOT: registry %s", p.Registry)
	}

	code, out, _ = runMain(t, environ, "plan", "--only", "api")
	if code != 0 {
		t.Fatal(code)
	}
	p = Plan{}
	_ = json.Unmarshal([]byte(out), &p)
	if got := strings.Join(p.Names(), ","); got != "api" || p.Registry != "registry.shopfront-dev.svc.cluster.local:5000" {
		t.Errorf("--only api with AGENTLINE_ENV=dev: images %s, registry %s", got, p.Registry)
	}
}

func TestMainPlanWritesMatrixResults(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := runMain(t, []string{}, "plan", "--config", shopfront(t), "--env", "ai-staging", "--results-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := readFile(t, filepath.Join(dir, "BUILDS")); got != `["api","web","worker"]` {
		t.Errorf("BUILDS = %s", got)
	}
	if got := readFile(t, filepath.Join(dir, "MIRRORS")); got != `["postgres"]` {
		t.Errorf("MIRRORS = %s", got)
	}
}

func TestMainUsageErrors(t *testing.T) {
	cfg := shopfront(t)
	for _, tc := range []struct {
		args    []string
		environ []string
		code    int
		msg     string
	}{
		{nil, nil, 2, "usage: kaniko-wrap"},
		{[]string{"push"}, nil, 2, `unknown command "push"`},
		{[]string{"plan", "--config", cfg}, nil, 2, "--env (or AGENTLINE_ENV) is required"},
		{[]string{"plan", "--config", cfg, "--env", "dev", "--only", "nope"}, nil, 1, "no image named nope"},
		{[]string{"plan", "--config", cfg}, []string{"AGENTLINE_ENV=dev", "AGENTLINE_SKIP_EXISTING=maybe"}, 2, "AGENTLINE_SKIP_EXISTING"},
		{[]string{"plan", "--config", filepath.Join(t.TempDir(), "missing.yaml"), "--env", "dev"}, nil, 1, "missing.yaml"},
	} {
		code, _, errOut := runMain(t, tc.environ, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
}

func TestMainMirrorResultsAndDefaultInsecureRegistry(t *testing.T) {
	src := newTestRegistry(t, false)
	dst := newTestRegistry(t, false)
	digest := src.pushImage(t, "team/app:1", 1)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "services.yaml")
	writeFile(t, cfg, `project: demo
registry: '{{ envOr "REGISTRY_HOST" "unset" }}'
images:
  app:
    type: external
    from: `+src.host+`/team/app:1
    local: '{{ envOr "REGISTRY_HOST" "unset" }}/mirror/app:1'
`)
	environ := []string{"REGISTRY_HOST=" + dst.host}
	results := filepath.Join(dir, "results")

	// Default --insecure-registry is the stack's registry only: the plain-HTTP source is refused.
	code, _, errOut := runMain(t, environ, "mirror", "--config", cfg, "--env", "dev")
	if code != 1 || !strings.Contains(errOut, "plain HTTP to registry "+src.host+" refused") {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}

	code, out, errOut := runMain(t, environ, "all", "--config", cfg, "--env", "dev",
		"--insecure-registry", src.host, "--insecure-registry", dst.host, "--results-dir", results)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	var images []Result
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(results, "IMAGES"))), &images); err != nil {
		t.Fatal(err)
	}
	ref := dst.host + "/mirror/app:1"
	assertResults(t, images, []Result{{Name: "app", Ref: ref, Digest: digest.String(), Action: ActionMirrored}})
	if u, d := readFile(t, filepath.Join(results, "IMAGE_URL")), readFile(t, filepath.Join(results, "IMAGE_DIGEST")); u != ref || d != digest.String() {
		t.Errorf("IMAGE_URL=%q IMAGE_DIGEST=%q", u, d)
	}
	if got := dst.digestOf(t, "mirror/app:1"); got != digest {
		t.Errorf("destination digest %s, want %s", got, digest)
	}
}

func TestWriteResultsSeveralImages(t *testing.T) {
	dir := t.TempDir()
	res := []Result{{"a", "r/a:1", "sha256:aa", ActionBuilt}, {"b", "r/b:1", "sha256:bb", ActionSkipped}}
	if err := WriteResults(dir, res); err != nil {
		t.Fatal(err)
	}
	want := `[{"name":"a","ref":"r/a:1","digest":"sha256:aa","action":"built"},{"name":"b","ref":"r/b:1","digest":"sha256:bb","action":"skipped"}]`
	if got := readFile(t, filepath.Join(dir, "IMAGES")); got != want {
		t.Errorf("IMAGES = %s", got)
	}
	for _, f := range []string{"IMAGE_URL", "IMAGE_DIGEST"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s written for two images (err %v)", f, err)
		}
	}
}
