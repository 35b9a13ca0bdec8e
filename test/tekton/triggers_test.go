package tekton_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	triggersv1alpha1 "github.com/tektoncd/triggers/pkg/apis/triggers/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	ghapi "github.com/agentline/agentline/pkg/github"
	"github.com/agentline/agentline/pkg/interceptor"
	"github.com/agentline/agentline/pkg/router"
	"github.com/agentline/agentline/pkg/runs"
	"github.com/agentline/agentline/pkg/webhook"
	"github.com/agentline/agentline/test/fakegithub"
	"github.com/agentline/agentline/test/shared"
	"github.com/agentline/agentline/test/stack"
)

// countingHandler counts, per X-GitHub-Delivery, the interceptor requests it passed on.
type countingHandler struct {
	next http.Handler
	mu   sync.Mutex
	seen map[string]int
}

func (c *countingHandler) served(delivery string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[delivery]
}

func (c *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req triggersv1alpha1.InterceptorRequest
	if json.Unmarshal(body, &req) == nil {
		c.mu.Lock()
		c.seen[http.Header(req.Header).Get("X-Github-Delivery")]++
		c.mu.Unlock()
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	c.next.ServeHTTP(w, r)
}

// agentlineInterceptor serves the controller's agentline interceptor (pkg/interceptor, the
// handler cmd/controller serves) over TLS, with its trust check asking a fake GitHub where
// the payload's sender owns the repository and is an allowed user.
func agentlineInterceptor(t *testing.T, repo, sender string) (*httptest.Server, *countingHandler) {
	t.Helper()
	gh := fakegithub.New(t)
	gh.CreateRepo(repo, fakegithub.RepoOptions{})
	gh.SetPermission(repo, sender, "write")
	client, err := ghapi.New(ghapi.Options{BaseURL: gh.APIURL(), Token: gh.AddUser("agentline-bot")})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := router.ConfigFromMap(map[string]string{"allowed-users": sender})
	if err != nil {
		t.Fatal(err)
	}
	ic := &interceptor.Interceptor{
		Config: func() router.Config { return cfg },
		Trust:  &webhook.Trust{Checker: webhook.GitHub{Client: client}},
	}
	ch := &countingHandler{next: interceptor.Handler(ic), seen: map[string]int{}}
	srv := httptest.NewTLSServer(ch)
	t.Cleanup(srv.Close)
	return srv, ch
}

var clusterInterceptorGVR = schema.GroupVersionResource{Group: "triggers.tekton.dev", Version: "v1alpha1", Resource: "clusterinterceptors"}

// TestSignedIssueLabelCreatesOnePendingRun posts a signed issues.labeled [ai-dev] payload to an
// EventListener sink serving triggers/ (core github interceptor + the controller's agentline
// interceptor, served by the test in place of the controller's Deployment):
// exactly one Pending ai-dev PipelineRun appears, named by the route, with the same labels,
// annotations and params as the controller's own runs.Build; the same delivery again creates
// none, and a wrong signature creates none.
func TestSignedIssueLabelCreatesOnePendingRun(t *testing.T) {
	env := stack.Get(t)
	ns := env.KwokNamespace(t)
	ctx := context.Background()
	install(t, env, ns)

	const secret = "webhook-s3cret"
	if _, err := env.Kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "agentline-github-webhook"}, StringData: map[string]string{"secret": secret},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	body := labeledPayload(t, "[ai-dev]")
	var payload struct {
		Issue struct {
			Number int `json:"number"`
		} `json:"issue"`
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
		Sender struct {
			Login string `json:"login"`
		} `json:"sender"`
	}
	if err := json.Unmarshal(body, &payload); err != nil {
		t.Fatal(err)
	}
	srv, ri := agentlineInterceptor(t, payload.Repository.FullName, payload.Sender.Login)
	ciName := "agentline-" + ns // cluster-scoped: unique per test namespace
	ci := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "triggers.tekton.dev/v1alpha1", "kind": "ClusterInterceptor",
		"metadata": map[string]any{"name": ciName, "labels": map[string]any{"server/type": "https"}},
		"spec": map[string]any{"clientConfig": map[string]any{
			"url":      srv.URL + "/" + interceptor.Path,
			"caBundle": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}),
		}},
	}}
	ap, err := stack.NewApplier(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := ap.Apply(ctx, ci); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Dynamic.Resource(clusterInterceptorGVR).Delete(context.Background(), ciName, metav1.DeleteOptions{})
	})

	// triggers/ as installed, in the test namespace, with the interceptor ref pointed at the
	// stand-in (cluster-scoped RBAC objects are left out: the sink runs with admin credentials).
	for _, o := range build(t, repoRoot(t)+"/triggers") {
		if clusterScoped[o.GetKind()] {
			continue
		}
		if o.GetKind() == "EventListener" {
			b, _ := o.MarshalJSON()
			b = bytes.Replace(b, []byte(`"ref":{"kind":"ClusterInterceptor","name":"agentline"}`), []byte(`"ref":{"kind":"ClusterInterceptor","name":"`+ciName+`"}`), 1)
			if err := o.UnmarshalJSON(b); err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, []byte(ciName)) {
				t.Fatal("EventListener: agentline interceptor ref not found")
			}
		}
		o.SetNamespace(ns)
		if err := ap.Apply(ctx, o); err != nil {
			t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	url := env.StartEventListener(t, ns, "agentline-github")

	delivery := "72d4c2a0-5c5a-11ef-8f1a-" + fmt.Sprintf("%012x", time.Now().UnixNano()&0xffffffffffff)
	post := func(secret, delivery string) {
		t.Helper()
		res, err := fakegithub.Deliver(context.Background(), url, fakegithub.Webhook{
			Payload: body, Event: "issues", DeliveryID: delivery, Secret: secret})
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode/100 != 2 {
			t.Fatalf("EventListener answered %d: %s", res.StatusCode, res.Body)
		}
	}
	list := func() []pipelinev1.PipelineRun {
		prs, err := env.Tekton.TektonV1().PipelineRuns(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return prs.Items
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// A forged signature is stopped by the core github interceptor: agentline never sees it.
	post("not-the-secret", "forged-"+delivery)
	post(secret, delivery)
	waitFor("a PipelineRun", func() bool { return len(list()) > 0 })

	prs := list()
	if len(prs) != 1 {
		t.Fatalf("want exactly one PipelineRun, got %d", len(prs))
	}
	got := prs[0]
	d, err := router.Decide("issues", delivery, body, router.DefaultConfig())
	// runs.Build is what the controller's direct webhook endpoint creates for the same delivery.
	if err != nil || d.Route == nil {
		t.Fatalf("router: %v %+v", err, d)
	}
	want, err := runs.Build(d.Route, runs.Config{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != router.RunName("ai-dev", delivery) || got.Name != want.Name {
		t.Errorf("PipelineRun name %q, want %q", got.Name, want.Name)
	}
	if got.Spec.PipelineRef == nil || got.Spec.PipelineRef.Name != "ai-dev" {
		t.Errorf("pipelineRef %+v, want ai-dev", got.Spec.PipelineRef)
	}
	if got.Spec.Status != pipelinev1.PipelineRunSpecStatusPending {
		t.Errorf("spec.status %q, want PipelineRunPending", got.Spec.Status)
	}
	for k, v := range want.Labels {
		if got.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (as the controller labels it)", k, got.Labels[k], v)
		}
	}
	if got.Labels[runs.LabelPR] != "" {
		t.Errorf("label %s = %q, want empty for an issue", runs.LabelPR, got.Labels[runs.LabelPR])
	}
	for k, v := range want.Annotations {
		if got.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, got.Annotations[k], v)
		}
	}
	gotParams := map[string]string{}
	for _, p := range got.Spec.Params {
		gotParams[p.Name] = p.Value.StringVal
	}
	wantParams := map[string]string{}
	for _, p := range want.Spec.Params {
		wantParams[p.Name] = p.Value.StringVal
	}
	for _, n := range router.ParamNames {
		if gotParams[n] != wantParams[n] {
			t.Errorf("param %s = %q, want %q", n, gotParams[n], wantParams[n])
		}
	}
	if gotParams["repo"] != payload.Repository.FullName || gotParams["issue"] != strconv.Itoa(payload.Issue.Number) ||
		gotParams["key"] != payload.Repository.FullName+"#"+strconv.Itoa(payload.Issue.Number) || gotParams["delivery"] != delivery {
		t.Errorf("params %v do not name the labelled issue %s#%d and delivery %s", gotParams, payload.Repository.FullName, payload.Issue.Number, delivery)
	}
	if n := ri.served("forged-" + delivery); n != 0 {
		t.Errorf("the agentline interceptor saw the forged delivery %d times", n)
	}

	// Redelivery: the interceptor routes it again, the template names the run the same, and the
	// API server refuses a second object of that name.
	post(secret, delivery)
	waitFor("the redelivery to reach the interceptor", func() bool { return ri.served(delivery) >= 2 })
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if n := len(list()); n != 1 {
			t.Fatalf("after the redelivery: %d PipelineRuns, want 1", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// labeledPayload is the octokit issues.labeled example with its label renamed.
func labeledPayload(t *testing.T, label string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(shared.Webhook(t, "issues.labeled"), &m); err != nil {
		t.Fatal(err)
	}
	m["label"].(map[string]any)["name"] = label
	if issue, ok := m["issue"].(map[string]any); ok {
		if ls, ok := issue["labels"].([]any); ok && len(ls) > 0 {
			ls[0].(map[string]any)["name"] = label
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
