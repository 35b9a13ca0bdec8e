package stack_test

// Tests on the real node: Tekton runs these steps in real pods (containerd + runc), with images
// from the stack's registry (make images), Services through kube-proxy and names through CoreDNS.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"

	"github.com/agentline/agentline/test/shared"
	"github.com/agentline/agentline/test/stack"
)

func busybox(env *stack.Env) string { return env.Registry + "/agentline/base/busybox:1" }

// createTaskRun creates the TaskRun written in YAML (%s in it are replaced by args) in ns.
func createTaskRun(t *testing.T, env *stack.Env, ns, doc string, args ...any) *pipelinev1.TaskRun {
	t.Helper()
	var tr pipelinev1.TaskRun
	if err := yaml.UnmarshalStrict([]byte(fmt.Sprintf(doc, args...)), &tr); err != nil {
		t.Fatalf("TaskRun YAML: %v", err)
	}
	got, err := env.Tekton.TektonV1().TaskRuns(ns).Create(context.Background(), &tr, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func waitTaskRunDone(t *testing.T, env *stack.Env, ns, name string, timeout time.Duration) *pipelinev1.TaskRun {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		tr, err := env.Tekton.TektonV1().TaskRuns(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if c := tr.Status.GetCondition(apis.ConditionSucceeded); c != nil && !c.IsUnknown() {
			return tr
		}
		if time.Now().After(deadline) {
			t.Fatalf("TaskRun %s/%s not done after %s: %+v\n%s", ns, name, timeout, tr.Status.Conditions, podEvents(env, ns, tr.Status.PodName))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// podEvents lists the events of a pod, to explain a run that hangs.
func podEvents(env *stack.Env, ns, pod string) string {
	evs, err := env.Kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range evs.Items {
		fmt.Fprintf(&b, "  %s %s: %s\n", e.Type, e.Reason, e.Message)
	}
	return b.String()
}

func result(tr *pipelinev1.TaskRun, name string) (string, bool) {
	for _, r := range tr.Status.Results {
		if r.Name == name {
			return r.Value.StringVal, true
		}
	}
	return "", false
}

func podLogs(t *testing.T, env *stack.Env, ns, pod, container string) string {
	t.Helper()
	rc, err := env.Kube.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container}).Stream(context.Background())
	if err != nil {
		t.Fatalf("logs of %s/%s %s: %v", ns, pod, container, err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

func TestNodeTaskRunWritesResult(t *testing.T) {
	env := stack.Get(t)
	ns := env.Namespace(t)
	tr := createTaskRun(t, env, ns, `
metadata: {generateName: result-}
spec:
  taskSpec:
    results: [{name: greeting}]
    steps:
      - name: write
        image: %s
        script: |
          #!/bin/sh
          printf 'hello from %%s' "$(hostname)" > $(results.greeting.path)
`, busybox(env))
	tr = waitTaskRunDone(t, env, ns, tr.Name, 2*time.Minute)
	if c := tr.Status.GetCondition(apis.ConditionSucceeded); !c.IsTrue() {
		t.Fatalf("TaskRun failed: %+v\n%s", c, podEvents(env, ns, tr.Status.PodName))
	}
	// The step ran in the TaskRun's pod: its hostname is the pod's name.
	if got, _ := result(tr, "greeting"); got != "hello from "+tr.Status.PodName {
		t.Errorf("result greeting = %q, want %q", got, "hello from "+tr.Status.PodName)
	}
	pod, err := env.Kube.CoreV1().Pods(ns).Get(context.Background(), tr.Status.PodName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Spec.NodeName != stack.NodeName {
		t.Errorf("pod ran on %q, want the real node %q", pod.Spec.NodeName, stack.NodeName)
	}
}

func TestNodePipelinePassesResultThroughPVCWorkspace(t *testing.T) {
	env := stack.Get(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	value := fmt.Sprintf("v-%d", time.Now().UnixNano())
	var pr pipelinev1.PipelineRun
	doc := fmt.Sprintf(`
metadata: {generateName: ws-}
spec:
  params: [{name: value, value: %q}]
  workspaces:
    - name: data
      volumeClaimTemplate:
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 16Mi}}
  pipelineSpec:
    params: [{name: value}]
    workspaces: [{name: data}]
    results: [{name: read, value: $(tasks.read.results.content)}]
    tasks:
      - name: write
        workspaces: [{name: data}]
        params: [{name: value, value: $(params.value)}]
        taskSpec:
          params: [{name: value}]
          workspaces: [{name: data}]
          steps:
            - name: write
              image: %[2]s
              script: printf '%%s' "$(params.value)" > $(workspaces.data.path)/message
      - name: read
        runAfter: [write]
        workspaces: [{name: data}]
        taskSpec:
          workspaces: [{name: data}]
          results: [{name: content}]
          steps:
            - name: read
              image: %[2]s
              script: cat $(workspaces.data.path)/message > $(results.content.path)
`, value, busybox(env))
	if err := yaml.UnmarshalStrict([]byte(doc), &pr); err != nil {
		t.Fatal(err)
	}
	created, err := env.Tekton.TektonV1().PipelineRuns(ns).Create(ctx, &pr, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := waitPipelineRunDone(t, env, ns, created.Name, 3*time.Minute)
	if c := done.Status.GetCondition(apis.ConditionSucceeded); !c.IsTrue() {
		t.Fatalf("PipelineRun failed: %+v", c)
	}
	var got string
	for _, r := range done.Status.Results {
		if r.Name == "read" {
			got = r.Value.StringVal
		}
	}
	if got != value {
		t.Errorf("pipeline result read = %q, want %q (written by the first task into the PVC)", got, value)
	}
	pvcs, err := env.Kube.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pvcs.Items) != 1 || pvcs.Items[0].Status.Phase != corev1.ClaimBound {
		t.Errorf("want one Bound PVC from the volumeClaimTemplate, got %+v", pvcs.Items)
	}
}

func TestNodeFailingStep(t *testing.T) {
	env := stack.Get(t)
	ns := env.Namespace(t)
	tr := createTaskRun(t, env, ns, `
metadata: {generateName: fail-}
spec:
  taskSpec:
    steps:
      - name: talk
        image: %[1]s
        script: echo "line one from the step"; echo "line two" >&2
      - name: fail
        image: %[1]s
        script: echo "about to fail"; exit 7
`, busybox(env))
	tr = waitTaskRunDone(t, env, ns, tr.Name, 2*time.Minute)
	c := tr.Status.GetCondition(apis.ConditionSucceeded)
	if !c.IsFalse() {
		t.Fatalf("TaskRun should fail, got %+v", c)
	}
	if c.Reason != pipelinev1.TaskRunReasonStepFailed.String() || !strings.Contains(c.Message, `"step-fail" exited with code 7`) {
		t.Errorf("condition = %s: %s; want reason StepFailed naming step-fail and code 7", c.Reason, c.Message)
	}
	var fail *pipelinev1.StepState
	for i := range tr.Status.Steps {
		if tr.Status.Steps[i].Name == "fail" {
			fail = &tr.Status.Steps[i]
		}
	}
	if fail == nil || fail.Terminated == nil || fail.Terminated.ExitCode != 7 || fail.Terminated.Reason != "Error" {
		t.Errorf("step fail = %+v, want terminated with exit code 7", fail)
	}
	// What `kubectl logs <pod> -c step-talk` shows, through the kubelet.
	logs := podLogs(t, env, ns, tr.Status.PodName, "step-talk")
	if !strings.Contains(logs, "line one from the step") || !strings.Contains(logs, "line two") {
		t.Errorf("logs of step-talk = %q", logs)
	}
	if logs := podLogs(t, env, ns, tr.Status.PodName, "step-fail"); !strings.Contains(logs, "about to fail") {
		t.Errorf("logs of step-fail = %q", logs)
	}
}

// runPod runs a one-container pod to completion and returns its phase and logs.
func runPod(t *testing.T, env *stack.Env, ns string, pod *corev1.Pod) (corev1.PodPhase, string) {
	t.Helper()
	ctx := context.Background()
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	p, err := env.Kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		p, err = env.Kube.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			return p.Status.Phase, podLogs(t, env, ns, p.Name, p.Spec.Containers[0].Name)
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s/%s not finished after 2m: %s\n%s", ns, p.Name, p.Status.Phase, podEvents(env, ns, p.Name))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestNodeInClusterClientUsesServiceAccountAndRBAC(t *testing.T) {
	env := stack.Get(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	for _, sa := range []string{"lister", "nobody"} {
		if _, err := env.Kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.Kube.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "read-configmaps"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Kube.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "lister"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "read-configmaps"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "lister", Namespace: ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "marker"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// kubectl without a kubeconfig uses client-go's in-cluster config: the mounted ServiceAccount
	// token and CA, and the server from KUBERNETES_SERVICE_HOST, here the Service's DNS name.
	kubectlPod := func(sa string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: sa + "-"}, Spec: corev1.PodSpec{
			ServiceAccountName: sa,
			Containers: []corev1.Container{{Name: "kubectl", Image: env.Registry + "/agentline/base/kubectl:1",
				Command: []string{"kubectl", "get", "configmaps", "-o", "name"},
				Env:     []corev1.EnvVar{{Name: "KUBERNETES_SERVICE_HOST", Value: "kubernetes.default.svc"}, {Name: "KUBERNETES_SERVICE_PORT", Value: "443"}}}},
		}}
	}
	phase, logs := runPod(t, env, ns, kubectlPod("lister"))
	if phase != corev1.PodSucceeded || !strings.Contains(logs, "configmap/marker") {
		t.Errorf("with the Role: phase %s, output %q; want the namespace's ConfigMaps", phase, logs)
	}
	phase, logs = runPod(t, env, ns, kubectlPod("nobody"))
	want := fmt.Sprintf(`User "system:serviceaccount:%s:nobody" cannot list resource "configmaps"`, ns)
	if phase != corev1.PodFailed || !strings.Contains(logs, want) {
		t.Errorf("without the Role: phase %s, output %q; want refused (%s)", phase, logs, want)
	}
}

func TestNodeServiceByClusterDNSName(t *testing.T) {
	env := stack.Get(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	labels := map[string]string{"app": "web"}
	token := fmt.Sprintf("served-%d", time.Now().UnixNano())
	server := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: labels}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "httpd", Image: busybox(env),
			Command:        []string{"sh", "-c", "mkdir -p /www && echo " + token + " > /www/index.html && exec httpd -f -p 8080 -h /www"},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1}}},
	}}
	if _, err := env.Kube.CoreV1().Pods(ns).Create(ctx, server, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Kube.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{
		Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	host := "web." + ns + ".svc." + stack.ClusterDomain
	// The client retries while the server becomes ready and kube-proxy programs the Service.
	phase, logs := runPod(t, env, ns, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "client-"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "client", Image: busybox(env), Command: []string{"sh", "-c",
			"for i in $(seq 1 60); do nslookup " + host + " >/dev/null 2>&1 && wget -qO- http://" + host + "/ && exit 0; sleep 1; done; nslookup " + host + "; exit 1"}}},
	}})
	if phase != corev1.PodSucceeded || !strings.Contains(logs, token) {
		t.Errorf("client of %s: phase %s, output %q; want %q", host, phase, logs, token)
	}
}

func TestNodeRenderImageRendersShopfrontFromWorkspace(t *testing.T) {
	env := stack.Get(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	// The shopfront example as a ConfigMap; the workspace's items put each file at its path.
	root := shared.Shopfront(t)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "shopfront"}, Data: map[string]string{}}
	var items []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if strings.HasPrefix(rel, "expected") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		key := strings.ReplaceAll(rel, "/", "__")
		cm.Data[key] = string(b)
		items = append(items, fmt.Sprintf("{key: %q, path: %q}", key, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	task := readTask(t, env, "render")
	if _, err := env.Tekton.TektonV1().Tasks(ns).Create(ctx, task, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr := createTaskRun(t, env, ns, `
metadata: {generateName: render-}
spec:
  taskRef: {name: render}
  params:
    - {name: command, value: template}
    - {name: env, value: dev}
  workspaces:
    - name: source
      configMap: {name: shopfront, items: [%s]}
`, strings.Join(items, ", "))
	tr = waitTaskRunDone(t, env, ns, tr.Name, 2*time.Minute)
	if c := tr.Status.GetCondition(apis.ConditionSucceeded); !c.IsTrue() {
		t.Fatalf("render TaskRun failed: %+v\nlogs:\n%s", c, podLogs(t, env, ns, tr.Status.PodName, "step-render"))
	}
	// The reference render of the dev environment names the namespace and the objects.
	want, err := os.ReadFile(filepath.Join(root, "expected", "dev.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	wantObjects := 0
	wantNS := ""
	for _, doc := range bytes.Split(want, []byte("\n---")) {
		var o struct {
			Kind     string
			Metadata struct{ Namespace, Name string }
		}
		if yaml.Unmarshal(doc, &o) == nil && o.Kind != "" {
			wantObjects++
			if o.Kind == "Namespace" {
				wantNS = o.Metadata.Name
			}
		}
	}
	if got, _ := result(tr, "namespace"); got != wantNS || wantNS == "" {
		t.Errorf("result namespace = %q, want %q (expected/dev.yaml)", got, wantNS)
	}
	if got, _ := result(tr, "objects"); got != fmt.Sprint(wantObjects) {
		t.Errorf("result objects = %q, want %d (expected/dev.yaml)", got, wantObjects)
	}
	if !strings.Contains(podLogs(t, env, ns, tr.Status.PodName, "step-render"), "kind: Deployment") {
		t.Errorf("the render step's output has no Deployment")
	}
}

// readTask reads tasks/<name>/<name>.yaml with its ko:// images resolved to the stack
// registry's ko-built images (make images).
func readTask(t *testing.T, env *stack.Env, name string) *pipelinev1.Task {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(env.Stack.Root, "tasks", name, name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var task pipelinev1.Task
	if err := yaml.Unmarshal([]byte(env.ResolveKo(string(b))), &task); err != nil {
		t.Fatal(err)
	}
	return &task
}
