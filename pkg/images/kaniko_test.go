package images

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// need fails under CI=true and skips otherwise.
func need(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// kanikoExecutor returns the executor built by `make testbin` (hack/testbin.sh).
func kanikoExecutor(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TESTBIN_DIR")
	if dir == "" {
		abs, err := filepath.Abs("../../bin/testbin")
		if err != nil {
			t.Fatal(err)
		}
		dir = abs
	}
	p := filepath.Join(dir, "kaniko-executor")
	if _, err := os.Stat(p); err != nil {
		need(t, "kaniko executor missing at "+p+": run `make testbin`")
	}
	return p
}

// chrootWrapper is the argv prefix that runs the executor in a throwaway chroot R with /proc,
// /dev and the given host dirs bind-mounted at the same paths, in a private mount namespace.
// kaniko unpacks base images into its "/" and deletes files there: never run it on the host root.
func chrootWrapper(root string, dirs ...string) []string {
	const script = `set -e
R="$1"; shift
while [ "$1" != "--" ]; do mkdir -p "$R$1"; mount --bind "$1" "$R$1"; shift; done
shift
mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"
exec chroot "$R" "$@"`
	argv := []string{"unshare", "-m", "--fork", "sh", "-c", script, "sh", root}
	argv = append(argv, dirs...)
	return append(argv, "--")
}

func TestKanikoBuildInChroot(t *testing.T) {
	executor := kanikoExecutor(t)
	if os.Geteuid() != 0 {
		need(t, "the kaniko build test needs root (unshare -m, chroot)")
	}
	for _, tool := range []string{"unshare", "chroot", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			need(t, tool+" missing (util-linux/coreutils)")
		}
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		need(t, "/bin/busybox missing: apt-get install -y busybox-static (the base image's shell)")
	}

	reg := newTestRegistry(t, false)
	base := reg.host + "/base/busybox:1"
	pushBusyboxBase(t, reg, "base/busybox:1")

	tmp := t.TempDir()
	root, proj, work, results := filepath.Join(tmp, "root"), filepath.Join(tmp, "proj"), filepath.Join(tmp, "work"), filepath.Join(tmp, "results")
	for _, d := range []string{root + "/kaniko", root + "/proc", root + "/dev", root + "/tmp", root + "/etc", proj, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, executor, root+"/kaniko/executor", 0o755)
	writeFile(t, root+"/etc/resolv.conf", "nameserver 127.0.0.1\n")
	writeFile(t, proj+"/hello.txt", "hello from the context\n")
	if err := os.MkdirAll(proj+"/libs/ui", 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, proj+"/libs/ui/ui.txt", "from the named build context\n")
	writeFile(t, proj+"/Dockerfile", "FROM "+base+`
ARG VERSION
ARG NPM_TOKEN
COPY hello.txt /app/hello.txt
COPY --from=shared ui.txt /app/shared.txt
RUN echo "version=$VERSION" > /app/version && echo "token-len=${#NPM_TOKEN}" > /app/token-info
`)

	build := Build{
		Name:        "app",
		Destination: reg.host + "/demo/app:1",
		Dockerfile:  proj + "/Dockerfile",
		Context:     proj,
		BuildArgs:   []BuildArg{{"NPM_TOKEN", "tok-0123456789"}, {"VERSION", "1.2.3"}},
		// kaniko v1.25.5 has no --build-context: the Builder emulates it.
		BuildContexts: []BuildContext{{"shared", proj + "/libs/ui"}},
	}
	var out, log bytes.Buffer
	bl := &Builder{
		Executor:   "/kaniko/executor",
		Wrapper:    chrootWrapper(root, proj, work),
		Registries: NewRegistries(reg.host),
		WorkDir:    work,
		ExtraArgs:  []string{"--force"}, // kaniko refuses to run outside a container otherwise
		Output:     &out,
		Log:        &log,
	}
	ctx := context.Background()
	res, err := bl.Run(ctx, []Build{build})
	if err != nil {
		t.Fatalf("build: %v\nlog:\n%s\noutput:\n%s", err, log.String(), out.String())
	}
	t.Logf("log:\n%s\nexecutor output:\n%s", log.String(), out.String())
	if len(res) != 1 || res[0].Action != ActionBuilt || res[0].Ref != build.Destination {
		t.Fatalf("results = %+v", res)
	}
	fileDigest, err := os.ReadFile(work + "/app.digest")
	if err != nil {
		t.Fatal(err)
	}
	pushed := reg.digestOf(t, "demo/app:1")
	if pushed.String() != strings.TrimSpace(string(fileDigest)) || pushed.String() != res[0].Digest {
		t.Errorf("pushed %s, digest file %s, result %s: want all equal", pushed, fileDigest, res[0].Digest)
	}
	if err := WriteResults(results, res); err != nil {
		t.Fatal(err)
	}
	var images []Result
	if err := json.Unmarshal([]byte(readFile(t, results+"/IMAGES")), &images); err != nil {
		t.Fatal(err)
	}
	if len(images) != 1 || images[0].Digest != pushed.String() || readFile(t, results+"/IMAGE_DIGEST") != pushed.String() ||
		readFile(t, results+"/IMAGE_URL") != build.Destination {
		t.Errorf("results dir: IMAGES=%+v IMAGE_DIGEST=%s IMAGE_URL=%s", images, readFile(t, results+"/IMAGE_DIGEST"), readFile(t, results+"/IMAGE_URL"))
	}

	// The image holds the COPY and the RUN output, with both build args applied.
	files := imageFiles(t, reg, "demo/app:1")
	for path, want := range map[string]string{
		"app/hello.txt":  "hello from the context\n",
		"app/shared.txt": "from the named build context\n",
		"app/version":    "version=1.2.3\n",
		"app/token-info": "token-len=14\n",
	} {
		if files[path] != want {
			t.Errorf("image file %s = %q, want %q", path, files[path], want)
		}
	}
	if !strings.Contains(out.String(), "[app] ") {
		t.Errorf("executor output not streamed with the image prefix:\n%s", out.String())
	}
	if strings.Contains(out.String()+log.String(), "tok-0123456789") {
		t.Errorf("secret build arg leaked into the logs")
	}

	// --skip-existing: the tag exists now, so the executor does not run again.
	out.Reset()
	bl.SkipExisting = true
	res, err = bl.Run(ctx, []Build{build})
	if err != nil {
		t.Fatal(err)
	}
	assertResults(t, res, []Result{{Name: "app", Ref: build.Destination, Digest: pushed.String(), Action: ActionSkipped}})
	if out.Len() != 0 {
		t.Errorf("executor ran although the destination exists:\n%s", out.String())
	}
}

// pushBusyboxBase pushes a base image holding Debian's static busybox as /bin/busybox with the
// applets the test's RUN needs.
func pushBusyboxBase(t *testing.T, reg *testRegistry, repoTag string) {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body []byte) {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	add(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}, nil)
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb))}, bb)
	for _, applet := range []string{"sh", "echo", "cat", "ls", "mkdir", "test"} {
		add(&tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Env = []string{"PATH=/bin"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(reg.ref(t, repoTag), img, reg.testRemote()...); err != nil {
		t.Fatal(err)
	}
}

// imageFiles returns the regular files under app/ of the flattened image.
func imageFiles(t *testing.T, reg *testRegistry, ref string) map[string]string {
	t.Helper()
	files := map[string]string{}
	for k, v := range imageAllFiles(t, reg, ref) {
		if strings.HasPrefix(k, "app/") {
			files[k] = v
		}
	}
	return files
}

// imageAllFiles returns every regular file of the flattened image.
func imageAllFiles(t *testing.T, reg *testRegistry, ref string) map[string]string {
	t.Helper()
	img, err := remote.Image(reg.ref(t, ref), reg.testRemote()...)
	if err != nil {
		t.Fatal(err)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[strings.TrimPrefix(h.Name, "/")] = string(b)
		}
	}
	return files
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
