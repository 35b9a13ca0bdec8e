package slots_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/agentline/agentline/pkg/slots"
	"github.com/agentline/agentline/test/stack"
)

// cluster is what a test runs against: the fake clientset or the local stack's API server.
type cluster struct {
	kube kubernetes.Interface
	// sys is the system namespace for the pool's Leases (fresh per test on the stack).
	sys string
	// newNamespace returns another fresh namespace (for legacy ConfigMaps, slot namespaces).
	newNamespace func() string
	real         bool
}

// onBoth runs fn against client-go's fake clientset and against the real API server of the local
// stack (skipped, or failed under CI=true, when the stack is unavailable).
func onBoth(t *testing.T, fn func(t *testing.T, c *cluster)) {
	t.Run("fake", func(t *testing.T) {
		n := 0
		fn(t, &cluster{kube: fake.NewClientset(), sys: "agentline-system", newNamespace: func() string {
			n++
			return fmt.Sprintf("ns-%d", n)
		}})
	})
	t.Run("stack", func(t *testing.T) { fn(t, onStack(t)) })
}

// onStack returns the local stack with a fresh system namespace.
func onStack(t testing.TB) *cluster {
	t.Helper()
	env := stack.Get(t)
	return &cluster{kube: fastClient(t, env.Config), sys: env.KwokNamespace(t), newNamespace: func() string { return env.KwokNamespace(t) }, real: true}
}

// fastClient is a clientset without client-side rate limiting, so 50 contenders really contend.
func fastClient(t testing.TB, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 1000, 2000
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// clock is a settable clock shared by pools of one test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type poolOpt func(*slots.Config)

func withEnv(env string) poolOpt                 { return func(c *slots.Config) { c.Env = env } }
func withClock(k *clock) poolOpt                 { return func(c *slots.Config) { c.Now = k.Now } }
func withTTL(d time.Duration) poolOpt            { return func(c *slots.Config) { c.TTL = d } }
func withBoot(b slots.Bootstrapper) poolOpt      { return func(c *slots.Config) { c.Bootstrapper = b } }
func withNS(f func(int) (string, error)) poolOpt { return func(c *slots.Config) { c.NamespaceFor = f } }

func newPool(t testing.TB, c *cluster, maxSlots int, opts ...poolOpt) *slots.Pool {
	t.Helper()
	cfg := slots.Config{Project: "shop", Env: "ai", MaxSlots: maxSlots, SystemNamespace: c.sys, TTL: time.Hour}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := slots.New(c.kube, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func acquire(t testing.TB, p *slots.Pool, key string, issue, pr int) *slots.Grant {
	t.Helper()
	g, err := p.Acquire(context.Background(), slots.Claim{Key: key, Issue: issue, PR: pr})
	if err != nil {
		t.Fatalf("acquire %s: %v", key, err)
	}
	return g
}

func mustErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want one wrapping %q", err, want)
	}
}

// leases returns the slot Leases in the system namespace by name.
func leases(t testing.TB, c *cluster) map[string]coordinationv1.Lease {
	t.Helper()
	ls, err := c.kube.CoordinationV1().Leases(c.sys).List(context.Background(), metav1.ListOptions{LabelSelector: slots.LabelKind + "=" + slots.KindSlot})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]coordinationv1.Lease{}
	for _, l := range ls.Items {
		out[l.Name] = l
	}
	return out
}

func holderOf(l coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// syncBuffer is a goroutine-safe bytes.Buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func contains(t testing.TB, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%q does not contain %q", s, sub)
	}
}
