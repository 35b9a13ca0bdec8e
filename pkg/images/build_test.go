package images

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestExecutorArgsShopfrontGolden checks the executor argv for shopfront's three build images
// (env ai, slot 2) against testdata/shopfront-ai-2.argv.golden. Paths are written relative to
// $ROOT (the project root) and $WORK (the digest-file directory).
func TestExecutorArgsShopfrontGolden(t *testing.T) {
	p, root := loadShopfront(t, "ai", 2)
	host := strings.SplitN(p.Registry, "/", 2)[0]
	bl := &Builder{
		Registries: NewRegistries(host),
		Cache:      true,
		CacheRepo:  DefaultCacheRepo(p.Registry, p.Project),
	}
	var buf bytes.Buffer
	for _, b := range p.Builds {
		args, env := bl.Args(b, filepath.Join("/work", b.Name+".digest"), len(p.Builds) > 1)
		fmt.Fprintf(&buf, "# %s\n", b.Name)
		for _, a := range args {
			fmt.Fprintln(&buf, strings.ReplaceAll(a, root, "$ROOT"))
		}
		if len(env) > 0 {
			t.Errorf("%s: unexpected executor env %v", b.Name, env)
		}
	}
	golden := filepath.Join("testdata", "shopfront-ai-2.argv.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update ./pkg/images/ to create it)", err)
	}
	if buf.String() != string(want) {
		t.Errorf("executor argv differs from %s:\n--- got\n%s--- want\n%s", golden, buf.String(), want)
	}
	// The argv follows the plan, not the golden file alone.
	for _, b := range p.Builds {
		args, _ := bl.Args(b, "/work/x.digest", true)
		joined := strings.Join(args, "\n")
		for _, want := range []string{"--destination=" + b.Destination, "--dockerfile=" + b.Dockerfile, "--context=dir://" + b.Context} {
			if !strings.Contains(joined, want) {
				t.Errorf("%s: argv lacks %s", b.Name, want)
			}
		}
	}
}

func TestExecutorArgsSecretsStayOutOfArgv(t *testing.T) {
	bl := &Builder{Registries: NewRegistries()}
	b := Build{Name: "api", Destination: "r.example/api:1", Dockerfile: "/p/Dockerfile", Context: "/p",
		BuildArgs: []BuildArg{{"VERSION", "1.2"}, {"NPM_TOKEN", "s3cr3t-tok"}, {"db_password", "pw-123"}}}
	args, env := bl.Args(b, "/w/api.digest", false)
	joined := strings.Join(args, " ")
	for _, s := range []string{"s3cr3t-tok", "pw-123", "--cleanup", "--cache", "insecure"} {
		if strings.Contains(joined, s) {
			t.Errorf("argv contains %q: %s", s, joined)
		}
	}
	for _, s := range []string{"--build-arg=NPM_TOKEN ", "--build-arg=VERSION=1.2", "--build-arg=db_password "} {
		if !strings.Contains(joined+" ", s) {
			t.Errorf("argv lacks %q: %s", s, joined)
		}
	}
	if got := strings.Join(env, ","); got != "NPM_TOKEN=s3cr3t-tok,db_password=pw-123" {
		t.Errorf("executor env = %s", got)
	}
	masked := strings.Join(MaskArgs([]string{"--build-arg=API_KEY=abc", "--build-arg", "X=1", "--build-arg=SECRET_X=y=z"}), " ")
	if masked != "--build-arg=API_KEY=*** --build-arg X=1 --build-arg=SECRET_X=***" {
		t.Errorf("MaskArgs = %s", masked)
	}
}

// fakeExecutor writes a shell script standing in for kaniko: it prints its argv and the secret
// from its environment, writes a digest file, and fails when FAIL is in its argv.
func fakeExecutor(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "executor")
	script := `#!/bin/sh
if [ "$1" = "--help" ]; then
  echo "Flags:"
  [ -n "$FAKE_NATIVE_BUILD_CONTEXT" ] && echo "      --build-context stringArray"
  exit 0
fi
digest=""
for a in "$@"; do
  case "$a" in
    --digest-file=*) digest="${a#--digest-file=}" ;;
    *FAIL*) echo "boom" >&2; exit 3 ;;
  esac
done
echo "args: $*"
echo "token is $NPM_TOKEN" >&2
printf 'partial line without newline, token %s' "$NPM_TOKEN"
printf 'sha256:%064d' 7 > "$digest"
`
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBuilderStreamsPrefixedMaskedOutput(t *testing.T) {
	exe := fakeExecutor(t)
	var out, log bytes.Buffer
	bl := &Builder{Executor: exe, Registries: NewRegistries(), Output: &out, Log: &log, WorkDir: t.TempDir()}
	b := Build{Name: "api", Destination: "r.example/api:1", Dockerfile: "/p/Dockerfile", Context: "/p",
		BuildArgs: []BuildArg{{"NPM_TOKEN", "s3cr3t-tok"}}}
	res, err := bl.Run(context.Background(), []Build{b})
	if err != nil {
		t.Fatal(err)
	}
	assertResults(t, res, []Result{{Name: "api", Ref: "r.example/api:1", Digest: fmt.Sprintf("sha256:%064d", 7), Action: ActionBuilt}})
	if strings.Contains(out.String()+log.String(), "s3cr3t-tok") {
		t.Errorf("secret leaked:\n%s\n%s", out.String(), log.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 output lines, got %q", out.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "[api] ") {
			t.Errorf("line without image prefix: %q", l)
		}
	}
	if !strings.Contains(out.String(), "[api] token is ***") || !strings.Contains(out.String(), "[api] partial line without newline, token ***") {
		t.Errorf("output:\n%s", out.String())
	}
	if !strings.Contains(log.String(), "build api: "+exe+" --context=dir:///p") {
		t.Errorf("command line not logged:\n%s", log.String())
	}
}

func TestBuilderStopsAtFailureNamingImage(t *testing.T) {
	exe := fakeExecutor(t)
	bl := &Builder{Executor: exe, Registries: NewRegistries(), WorkDir: t.TempDir()}
	builds := []Build{
		{Name: "one", Destination: "r.example/one:1", Dockerfile: "/p/D", Context: "/p"},
		{Name: "two", Destination: "r.example/two:FAIL", Dockerfile: "/p/D", Context: "/p"},
		{Name: "three", Destination: "r.example/three:1", Dockerfile: "/p/D", Context: "/p"},
	}
	res, err := bl.Run(context.Background(), builds)
	if err == nil || !strings.Contains(err.Error(), "build two: kaniko executor failed") {
		t.Fatalf("err = %v", err)
	}
	if len(res) != 1 || res[0].Name != "one" {
		t.Errorf("results = %+v, want only one", res)
	}
}

func TestBuilderMissingExecutor(t *testing.T) {
	bl := &Builder{Executor: filepath.Join(t.TempDir(), "nope")}
	_, err := bl.Run(context.Background(), []Build{{Name: "a"}})
	if err == nil || !strings.Contains(err.Error(), "kaniko executor") || !strings.Contains(err.Error(), "--executor") {
		t.Errorf("err = %v", err)
	}
}

func TestBuilderPassesBuildContextsToAnExecutorThatHasTheFlag(t *testing.T) {
	var out bytes.Buffer
	bl := &Builder{Executor: fakeExecutor(t), WorkDir: t.TempDir(), Output: &out,
		Env: append(os.Environ(), "FAKE_NATIVE_BUILD_CONTEXT=1")}
	_, err := bl.Run(context.Background(), []Build{{Name: "web", Destination: "r.example/web:1", Context: "/p", Dockerfile: "/p/D",
		BuildContexts: []BuildContext{{"shared", "/p/libs"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "--dockerfile=/p/D ") || !strings.Contains(out.String(), "--build-context=shared=dir:///p/libs") {
		t.Errorf("native build context not passed:\n%s", out.String())
	}
}

func TestBuilderEmulatesBuildContexts(t *testing.T) {
	reg := newTestRegistry(t, false)
	proj := t.TempDir()
	writeFile(t, proj+"/Dockerfile", "FROM base AS b\nCOPY --from=shared /ui.txt /ui.txt\nCOPY --from=b /x /x\n")
	if err := os.MkdirAll(proj+"/libs/ui/sub", 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, proj+"/libs/ui/ui.txt", "ui\n")
	writeFile(t, proj+"/libs/ui/sub/more.txt", "more\n")
	var out, log bytes.Buffer
	work := t.TempDir()
	bl := &Builder{Executor: fakeExecutor(t), WorkDir: work, Output: &out, Log: &log, Registries: NewRegistries(reg.host)}
	b := Build{Name: "web", Destination: reg.host + "/shop/web:1", Context: proj, Dockerfile: proj + "/Dockerfile",
		BuildContexts: []BuildContext{{"shared", proj + "/libs/ui"}}}
	if _, err := bl.Run(context.Background(), []Build{b}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "--build-context") || !strings.Contains(out.String(), "--dockerfile="+work+"/web.Dockerfile") {
		t.Errorf("emulated build still passes --build-context or the original Dockerfile:\n%s", out.String())
	}
	img, _, err := dirImage(proj+"/libs/ui", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	ref := reg.host + "/shop/web-context-shared@" + d.String()
	want := "FROM base AS b\nCOPY --from=" + ref + " /ui.txt /ui.txt\nCOPY --from=b /x /x\n"
	if got := readFile(t, work+"/web.Dockerfile"); got != want {
		t.Errorf("rewritten Dockerfile:\n%s\nwant:\n%s", got, want)
	}
	files := map[string]string{}
	pushed := imageAllFiles(t, reg, "shop/web-context-shared@"+d.String())
	for k, v := range pushed {
		files[k] = v
	}
	if files["ui.txt"] != "ui\n" || files["sub/more.txt"] != "more\n" || len(files) != 2 {
		t.Errorf("context image files = %v", files)
	}
	// The same tree gives the same image (so kaniko's cache keys stay stable).
	img2, _, _ := dirImage(proj+"/libs/ui", t.TempDir())
	if d2, _ := img2.Digest(); d2 != d {
		t.Errorf("context image not reproducible: %s vs %s", d, d2)
	}
}

func TestRewriteDockerfile(t *testing.T) {
	refs := map[string]string{"shared": "r/x@sha256:1", "tools": "r/t@sha256:2"}
	src := "ARG V\nFROM --platform=linux/amd64 tools AS t\nfrom shared\nFROM sharedx\nCOPY --chown=1 --from=shared a b\r\nCOPY --from=\"tools\" c d\nRUN echo --from=other\n"
	want := "ARG V\nFROM --platform=linux/amd64 r/t@sha256:2 AS t\nfrom r/x@sha256:1\nFROM sharedx\nCOPY --chown=1 --from=r/x@sha256:1 a b\r\nCOPY --from=\"r/t@sha256:2\" c d\nRUN echo --from=other\n"
	if got := rewriteDockerfile(src, refs); got != want {
		t.Errorf("got:\n%q\nwant:\n%q", got, want)
	}
}

func TestBuilderDefaultWorkDirBesideExecutor(t *testing.T) {
	exe := fakeExecutor(t)
	var log bytes.Buffer
	bl := &Builder{Executor: exe, Log: &log}
	if _, err := bl.Run(context.Background(), []Build{{Name: "api", Destination: "r/api:1", Context: "/p", Dockerfile: "/p/D"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "--digest-file="+filepath.Dir(exe)+"/kaniko-wrap-") {
		t.Errorf("digest file not beside the executor (kaniko deletes other dirs):\n%s", log.String())
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(exe), "kaniko-wrap-*"))
	if len(left) != 0 {
		t.Errorf("work dir left behind: %v", left)
	}
}
