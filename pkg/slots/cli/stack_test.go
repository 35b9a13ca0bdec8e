package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentline/agentline/pkg/slots"
	"github.com/agentline/agentline/pkg/slots/cli"
	"github.com/agentline/agentline/test/stack"
)

// TestFiftyProcessesTenSlots runs 50 slot-lease processes (this test binary re-executed as the
// binary) against one pool of 10 slots on the local stack.
func TestFiftyProcessesTenSlots(t *testing.T) {
	st := stack.Get(t)
	sys := st.KwokNamespace(t)
	cfg := writeConfig(t, servicesYAML)
	base := t.TempDir()
	type outcome struct {
		code   int
		stderr string
	}
	outcomes := make([]outcome, 51)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 1; i <= 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "acquire", "--config", cfg, "--max-slots", "10",
				"--key", fmt.Sprintf("o/r#%d", i), "--issue", strconv.Itoa(i),
				"--results-dir", filepath.Join(base, strconv.Itoa(i)), "--kubeconfig", st.Kubeconfig)
			cmd.Env = append(os.Environ(), "SLOT_LEASE_AS_MAIN=1", "AGENTLINE_SYSTEM_NAMESPACE="+sys)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			<-start
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				code = -1
			}
			outcomes[i] = outcome{code, stderr.String()}
		}()
	}
	close(start)
	wg.Wait()

	bySlot := map[string]int{}
	losers := 0
	for i := 1; i <= 50; i++ {
		o := outcomes[i]
		switch o.code {
		case cli.ExitOK:
			r := readResults(t, filepath.Join(base, strconv.Itoa(i)))
			if prev, dup := bySlot[r["slot"]]; dup {
				t.Errorf("slot %s granted to processes %d and %d", r["slot"], prev, i)
			}
			bySlot[r["slot"]] = i
			if r["namespace"] != "shop-agent-"+r["slot"] || r["new-env"] != "true" || r["host"] != "dev-"+r["slot"]+".ai.example.test" {
				t.Errorf("process %d results %v", i, r)
			}
		case cli.ExitNoFreeSlot:
			losers++
			if !strings.Contains(o.stderr, "no free slot in pool shop/ai") {
				t.Errorf("process %d: %s", i, o.stderr)
			}
		default:
			t.Errorf("process %d exited %d: %s", i, o.code, o.stderr)
		}
	}
	if len(bySlot) != 10 || losers != 40 {
		t.Fatalf("%d winners, %d losers; want 10 and 40", len(bySlot), losers)
	}
	ls, err := st.Kube.CoordinationV1().Leases(sys).List(context.Background(), metav1.ListOptions{LabelSelector: slots.LabelKind + "=" + slots.KindSlot})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.Items) != 10 {
		t.Fatalf("%d leases, want 10", len(ls.Items))
	}
	for _, l := range ls.Items {
		want := fmt.Sprintf("o/r#%d", bySlot[l.Labels[slots.LabelSlot]])
		if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != want || l.Labels[slots.LabelIssue] != strings.TrimPrefix(want, "o/r#") {
			t.Errorf("lease %s: holder %v labels %v, want %s", l.Name, l.Spec.HolderIdentity, l.Labels, want)
		}
	}
}

// TestAcquireBootstrapsSlotInfra leases a slot through the CLI on the local stack and checks that
// only environments.ai.slotBootstrapInfra was applied into the new slot namespace, in-process.
func TestAcquireBootstrapsSlotInfra(t *testing.T) {
	st := stack.Get(t)
	sys := st.KwokNamespace(t)
	dir := t.TempDir()
	files := map[string]string{
		"services.yaml": `project: boot
maxSlots: 2
namespace:
  patterns:
    ai: "` + sys + `-slot-{{ .Slot }}"
environments:
  ai:
    slotBootstrapInfra: [config]
infrastructure:
  - name: config
    manifests: [{path: infra/config.yaml}]
  - name: other
    manifests: [{path: infra/other.yaml}]
services:
  - name: web
    manifests: [{path: svc/web.yaml}]
`,
		"infra/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: slot-config}\ndata: {slot: \"{{ .Slot }}\", ns: \"{{ .Namespace }}\"}\n",
		"infra/other.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n",
		"svc/web.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n",
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	slotNS := sys + "-slot-1"
	t.Cleanup(func() { _ = st.Kube.CoreV1().Namespaces().Delete(context.Background(), slotNS, metav1.DeleteOptions{}) })
	c, err := cli.ParseCLI([]string{"acquire", "--config", filepath.Join(dir, "services.yaml"), "--key", "o/r#1", "--system-namespace", sys, "--results-dir", filepath.Join(dir, "out")}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	c.RESTConfig = st.Config
	var out, errOut bytes.Buffer
	if err := c.Run(context.Background(), &out, &errOut); err != nil {
		t.Fatalf("acquire: %v\n%s", err, errOut.String())
	}
	r := readResults(t, filepath.Join(dir, "out"))
	if r["slot"] != "1" || r["namespace"] != slotNS || r["new-env"] != "true" {
		t.Fatalf("results %v", r)
	}
	ctx := context.Background()
	cm, err := st.Kube.CoreV1().ConfigMaps(slotNS).Get(ctx, "slot-config", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("bootstrap infra not applied: %v\n%s", err, errOut.String())
	}
	if cm.Data["slot"] != "1" || cm.Data["ns"] != slotNS || cm.Labels["agentline.dev/slot"] != "1" {
		t.Fatalf("slot-config %v labels %v", cm.Data, cm.Labels)
	}
	for _, name := range []string{"other", "web"} {
		if _, err := st.Kube.CoreV1().ConfigMaps(slotNS).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ConfigMap %s outside slotBootstrapInfra: %v", name, err)
		}
	}
}
