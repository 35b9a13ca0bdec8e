package demo_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v66/github"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	agithub "github.com/agentline/agentline/pkg/github"
	"github.com/agentline/agentline/pkg/slots"
	"github.com/agentline/agentline/test/demo"
	"github.com/agentline/agentline/test/stack"
)

// TestDemo is `make demo`, `make demo-review` and `make demo-close` headless, on the real node:
// the controller installed from config/ routes a signed [ai-dev] label; the ai-dev Pipeline's
// Tasks run the ko-built images in real pods; the real Codex CLI runs the scripted session in
// the slot's checkout; the issue ends as a draft PR whose commit passes the sample's tests.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the whole loop on the stack's real node (minutes)")
	}
	env := stack.Get(t)
	seed := make([]byte, 8)
	_, _ = rand.Read(seed)
	srv, err := demo.NewServer(t, demo.Options{Host: env.Stack.NodeIP, Seed: hex.EncodeToString(seed)})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	d := &demo.Driver{Env: env, AdminURL: srv.AdminURL, Out: &out, Timeout: 15 * time.Minute}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("demo output:\n%s", out.String())
		}
	})
	ctx := context.Background()
	before := branches(t, srv)

	res, err := d.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := res.Issue
	head := "codex/issue-" + strconv.Itoa(n)
	pr, ok := srv.GH.PullRequest(demo.Repo, res.PR.Number)
	if !ok {
		t.Fatalf("PR #%d not in the fake", res.PR.Number)
	}
	if pr.Head != head || pr.Base != "main" || !pr.Draft || pr.State != "open" {
		t.Errorf("PR #%d: head %s base %s draft %v state %s; want an open draft from %s to main", pr.Number, pr.Head, pr.Base, pr.Draft, pr.State, head)
	}
	if !strings.Contains(pr.Body, fmt.Sprintf("Closes #%d", n)) || !strings.Contains(pr.Body, "GET /version") {
		t.Errorf("PR body should carry the agent's summary and close #%d:\n%s", n, pr.Body)
	}
	// The agent's commit passes the sample's tests (and has the endpoint).
	dir := clone(t, srv, pr.HeadSHA)
	if b, err := os.ReadFile(filepath.Join(dir, "services", "api", "version.go")); err != nil || !strings.Contains(string(b), "func version(") {
		t.Errorf("the agent's commit has no version handler: %v", err)
	}
	goTest(t, filepath.Join(dir, "services", "api"))

	// The slot's Lease names the issue; the environment runs in the slot's namespace.
	leases, err := env.Kube.CoordinationV1().Leases(demo.SystemNamespace).List(ctx, metav1.ListOptions{
		LabelSelector: fmt.Sprintf("%s=shopfront,%s=%s,%s=%d", slots.LabelProject, slots.LabelKind, slots.KindSlot, slots.LabelIssue, n)})
	if err != nil {
		t.Fatal(err)
	}
	if len(leases.Items) != 1 || *leases.Items[0].Spec.HolderIdentity != demo.Repo+"#"+strconv.Itoa(n) {
		t.Fatalf("want one slot Lease held by %s#%d, got %+v", demo.Repo, n, leases.Items)
	}
	slotNS := res.SlotNS
	waitPodReady(t, env, slotNS, "app=api")

	// The sticky comment ended succeeded, with the PR link.
	status := statusComment(t, srv, n)
	if !strings.Contains(status, "succeeded") || !strings.Contains(status, fmt.Sprintf("/pull/%d", pr.Number)) {
		t.Errorf("status comment should say succeeded and link PR #%d:\n%s", pr.Number, status)
	}

	// Review: changes requested → the agent's second commit on the same branch.
	if _, err := d.Review(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := srv.GH.PullRequest(demo.Repo, pr.Number)
	if after.HeadSHA == pr.HeadSHA {
		t.Fatalf("the review run pushed no commit to %s", head)
	}
	dir = clone(t, srv, after.HeadSHA)
	if b, _ := os.ReadFile(filepath.Join(dir, "services", "api", "version.go")); !strings.Contains(string(b), "goVersion") {
		t.Errorf("the review commit does not address the review (goVersion):\n%s", b)
	}
	goTest(t, filepath.Join(dir, "services", "api"))

	// Close: merged → the slot is released, its namespace destroyed, only codex/ branches go.
	if _, err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if merged, _ := srv.GH.PullRequest(demo.Repo, pr.Number); !merged.Merged {
		t.Errorf("PR #%d not merged", pr.Number)
	}
	if l, err := env.Kube.CoordinationV1().Leases(demo.SystemNamespace).Get(ctx, leases.Items[0].Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("slot Lease still there after close: %+v %v", l, err)
	}
	if _, err := env.Kube.CoreV1().Namespaces().Get(ctx, slotNS, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("slot namespace %s still there after close (%v)", slotNS, err)
	}
	now := branches(t, srv)
	if !now["main"] {
		t.Error("main was deleted")
	}
	for b := range before {
		if !now[b] && !strings.HasPrefix(b, "codex/") {
			t.Errorf("branch %s was deleted: only codex/ branches may be", b)
		}
	}
	if now[head] {
		t.Errorf("%s still there after the merge", head)
	}
}

func ownerClient(t *testing.T, srv *demo.Server) *github.Client {
	t.Helper()
	return srv.GH.Client(srv.State().OwnerToken)
}

func branches(t *testing.T, srv *demo.Server) map[string]bool {
	t.Helper()
	owner, name, _ := strings.Cut(demo.Repo, "/")
	bs, _, err := ownerClient(t, srv).Repositories.ListBranches(context.Background(), owner, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, b := range bs {
		out[b.GetName()] = true
	}
	return out
}

func statusComment(t *testing.T, srv *demo.Server, issue int) string {
	t.Helper()
	for _, c := range srv.GH.Comments(demo.Repo, issue) {
		if c.User == demo.Bot && strings.Contains(c.Body, agithub.Marker("status")) {
			return c.Body
		}
	}
	t.Fatalf("no status comment by %s on #%d", demo.Bot, issue)
	return ""
}

// clone checks out sha of the demo repository into a temporary folder (token in the environment).
func clone(t *testing.T, srv *demo.Server, sha string) string {
	t.Helper()
	dir := t.TempDir()
	for _, args := range [][]string{{"clone", "-q", srv.State().CloneURL, "."}, {"checkout", "-q", sha}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = demo.GitEnv(srv.State().OwnerToken)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", args[0], err, out)
		}
	}
	return dir
}

func goTest(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command("go", "test", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off", "GOPROXY=off", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("go test in the sample at the agent's commit: %v\n%s", err, out)
	}
}

func waitPodReady(t *testing.T, env *stack.Env, ns, selector string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pods, err := env.Kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
		if err == nil {
			for _, p := range pods.Items {
				for _, c := range p.Status.Conditions {
					if c.Type == "Ready" && c.Status == "True" && p.Spec.NodeName == stack.NodeName {
						return
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready %s pod on the real node in %s after 2m (%v)", selector, ns, err)
		}
		time.Sleep(time.Second)
	}
}
