package cli_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/agentline/agentline/pkg/slots"
	"github.com/agentline/agentline/pkg/slots/cli"
)

// The test binary doubles as slot-lease for the multi-process tests.
func TestMain(m *testing.M) {
	if os.Getenv("SLOT_LEASE_AS_MAIN") == "1" {
		os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseCLIFlagsAndEnv(t *testing.T) {
	c, err := cli.ParseCLI([]string{"acquire", "--project", "shop", "--issue", "5"}, env(map[string]string{
		"AGENTLINE_KEY": "o/r#5", "AGENTLINE_ISSUE": "6", "AGENTLINE_WAIT": "10m", "AGENTLINE_NO_BOOTSTRAP": "true",
		"AGENTLINE_MAX_SLOTS": "3", "AGENTLINE_SYSTEM_NAMESPACE": "sys",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Key != "o/r#5" || c.Issue != 5 || c.Wait.Minutes() != 10 || !c.NoBootstrap || c.MaxSlots != 3 || c.SystemNamespace != "sys" || c.Env != "ai" {
		t.Fatalf("parsed %+v", c)
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, "missing command"},
		{[]string{"grab", "--project", "p"}, nil, `unknown command "grab"`},
		{[]string{"acquire", "--project", "p"}, nil, "--key"},
		{[]string{"status"}, nil, "--config"},
		{[]string{"link", "--project", "p", "--key", "o/r#1"}, nil, "--pr"},
		{[]string{"status", "--project", "p"}, map[string]string{"AGENTLINE_TTL": "soon"}, "AGENTLINE_TTL"},
	} {
		if _, err := cli.ParseCLI(tc.args, env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseCLI(%v) error %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}

const servicesYAML = `project: shop
maxSlots: 2
namespace:
  patterns:
    ai: "{{ .Project }}-agent-{{ .Slot }}"
baseDomain:
  ai: ai.example.test
`

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "services.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readResults(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

type countBoot struct {
	mu sync.Mutex
	n  int
}

func (b *countBoot) Bootstrap(context.Context, int, string) error {
	b.mu.Lock()
	b.n++
	b.mu.Unlock()
	return nil
}

func TestRunAcquireStatusRelease(t *testing.T) {
	kube := fake.NewClientset()
	cfg := writeConfig(t, servicesYAML)
	boot := &countBoot{}
	run := func(args ...string) (string, error) {
		c, err := cli.ParseCLI(append(args, "--config", cfg), env(nil))
		if err != nil {
			t.Fatal(err)
		}
		c.Kube, c.Bootstrapper = kube, boot
		var out, errOut bytes.Buffer
		err = c.Run(context.Background(), &out, &errOut)
		return out.String() + errOut.String(), err
	}
	dir := t.TempDir()
	if _, err := run("acquire", "--key", "o/r#5", "--issue", "5", "--results-dir", dir); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"slot": "1", "namespace": "shop-agent-1", "new-env": "true", "host": "dev-1.ai.example.test"}
	if got := readResults(t, dir); !equal(got, want) {
		t.Fatalf("results %v, want %v", got, want)
	}
	if boot.n != 1 {
		t.Fatalf("bootstrap ran %d times, want 1", boot.n)
	}
	if _, err := run("acquire", "--key", "o/r#6", "--no-bootstrap"); err != nil || boot.n != 1 {
		t.Fatalf("acquire --no-bootstrap: %v, bootstrap count %d", err, boot.n)
	}
	out, err := run("status")
	if err != nil || !strings.Contains(out, "o/r#5") || !strings.Contains(out, "o/r#6") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	if _, err := run("acquire", "--key", "o/r#7"); !errors.Is(err, slots.ErrNoFreeSlot) {
		t.Fatalf("third acquire: %v, want no free slot", err)
	}
	if _, err := run("release", "--key", "o/r#6", "--slot", "1"); !errors.Is(err, slots.ErrNotHolder) {
		t.Fatalf("release by another key: %v", err)
	}
	found := t.TempDir()
	if _, err := run("find", "--key", "o/r#6", "--results-dir", found); err != nil {
		t.Fatalf("find a held slot: %v", err)
	}
	if got := readResults(t, found); got["slot"] != "2" || got["held"] != "true" {
		t.Fatalf("find results %v, want slot 2 held", got)
	}
	if out, err := run("release", "--key", "o/r#5"); err != nil || !strings.Contains(out, "slot 1") {
		t.Fatalf("release: %v %s", err, out)
	}
	none := t.TempDir()
	if out, err := run("find", "--key", "o/r#5", "--results-dir", none); err != nil || !strings.Contains(out, "holds no slot") {
		t.Fatalf("find after release must succeed and say so: %v %s", err, out)
	}
	if got := readResults(t, none); got["slot"] != "0" || got["held"] != "false" || got["namespace"] != "" {
		t.Fatalf("find results %v, want slot 0, held false", got)
	}
	if _, err := run("renew", "--key", "o/r#5"); !errors.Is(err, slots.ErrNotHeld) {
		t.Fatalf("renew of a released key: %v, want ErrNotHeld", err)
	}
	if _, err := run("acquire", "--key", "o/r#7", "--env", "ai-repair"); err != nil {
		t.Fatalf("ai-repair pool: %v", err)
	}
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
