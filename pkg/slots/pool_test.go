package slots_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/agentline/agentline/pkg/slots"
)

func TestLeaseNameSeparatesPools(t *testing.T) {
	names := map[string]string{}
	for _, pe := range [][2]string{{"shop", "ai-repair"}, {"shop-ai", "repair"}, {"shop", "ai"}, {"Shop", "ai"}, {"shop_x", "ai"}, {"shop-x", "ai"}, {strings.Repeat("p", 200), strings.Repeat("e", 200)}} {
		n := slots.LeaseName(pe[0], pe[1], 3)
		if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
			t.Errorf("LeaseName(%q, %q) = %q is not DNS-safe: %v", pe[0], pe[1], n, errs)
		}
		if prev, dup := names[n]; dup {
			t.Errorf("LeaseName(%q, %q) = %q collides with %s", pe[0], pe[1], n, prev)
		}
		names[n] = pe[0] + "/" + pe[1]
	}
	if got := slots.LeaseName("shop", "ai", 7); got != "shop.ai.slot-7" {
		t.Errorf("LeaseName(shop, ai, 7) = %q, want shop.ai.slot-7", got)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	kube := fake.NewClientset()
	for _, cfg := range []slots.Config{
		{Env: "ai", MaxSlots: 1},
		{Project: "shop", MaxSlots: 1},
		{Project: "shop", Env: "ai"},
		{Project: "shop/x", Env: "ai", MaxSlots: 1},
		{Project: "shop", Env: "ai", MaxSlots: 1, TTL: time.Millisecond},
	} {
		if _, err := slots.New(kube, cfg); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
}

func TestAcquireLowestAndSameKey(t *testing.T) {
	onBoth(t, func(t *testing.T, c *cluster) {
		p := newPool(t, c, 3)
		g1 := acquire(t, p, "o/r#1", 1, 0)
		g2 := acquire(t, p, "o/r#2", 2, 0)
		if g1.Slot != 1 || g2.Slot != 2 || !g1.Created || !g1.Fresh {
			t.Fatalf("grants %+v %+v, want fresh slots 1 and 2", g1, g2)
		}
		if g1.Namespace != "shop-dev-1" {
			t.Errorf("namespace %q, want shop-dev-1", g1.Namespace)
		}
		again := acquire(t, p, "o/r#1", 1, 0)
		if again.Slot != 1 || again.Fresh || again.Created {
			t.Fatalf("same key again: %+v, want slot 1, not fresh", again)
		}
		l := leases(t, c)["shop.ai.slot-1"]
		if holderOf(l) != "o/r#1" || l.Labels[slots.LabelIssue] != "1" || l.Labels[slots.LabelSlot] != "1" ||
			l.Labels[slots.LabelProject] != "shop" || l.Labels[slots.LabelEnv] != "ai" || *l.Spec.LeaseDurationSeconds != 3600 {
			t.Fatalf("lease 1: holder %q labels %v duration %d", holderOf(l), l.Labels, *l.Spec.LeaseDurationSeconds)
		}
		// A run for the issue's PR (another key) finds the issue's slot once linked.
		if _, err := p.Link(context.Background(), slots.Claim{Key: "o/r#1", Issue: 1, PR: 17}); err != nil {
			t.Fatal(err)
		}
		byPR := acquire(t, p, "o/r#17", 0, 17)
		if byPR.Slot != 1 || byPR.Holder != "o/r#1" {
			t.Fatalf("acquire by linked PR: %+v, want slot 1 held by o/r#1", byPR)
		}
		// The same PR number in another repository is someone else.
		other := acquire(t, p, "x/y#17", 0, 17)
		if other.Slot != 3 {
			t.Fatalf("other repo's PR 17 got slot %d, want 3", other.Slot)
		}
		_, err := p.Acquire(context.Background(), slots.Claim{Key: "o/r#4", Issue: 4})
		mustErr(t, err, slots.ErrNoFreeSlot)
		contains(t, err.Error(), "3 of 3 held")
		contains(t, err.Error(), "1=o/r#1")
	})
}

func TestReleaseOnlyByHolder(t *testing.T) {
	onBoth(t, func(t *testing.T, c *cluster) {
		ctx := context.Background()
		p := newPool(t, c, 2)
		acquire(t, p, "o/r#1", 1, 0)
		_, err := p.Release(ctx, "o/r#2", 1)
		mustErr(t, err, slots.ErrNotHolder)
		if holderOf(leases(t, c)["shop.ai.slot-1"]) != "o/r#1" {
			t.Fatal("a refused release changed the lease")
		}
		_, err = p.Release(ctx, "o/r#2", 0)
		mustErr(t, err, slots.ErrNotHeld)
		st, err := p.Release(ctx, "o/r#1", 0)
		if err != nil || st.Slot != 1 {
			t.Fatalf("release by holder: %+v, %v", st, err)
		}
		if len(leases(t, c)) != 0 {
			t.Fatal("lease still there after release")
		}
		if g := acquire(t, p, "o/r#3", 3, 0); g.Slot != 1 || !g.Created {
			t.Fatalf("after release: %+v, want slot 1 created", g)
		}
	})
}

func TestExpiredLeaseReclaimed(t *testing.T) {
	onBoth(t, func(t *testing.T, c *cluster) {
		ctx := context.Background()
		clk := newClock()
		p := newPool(t, c, 2, withClock(clk), withTTL(time.Minute))
		acquire(t, p, "o/r#1", 1, 0)
		acquire(t, p, "o/r#2", 2, 0)
		clk.Add(30 * time.Second)
		if _, err := p.Renew(ctx, "o/r#2", 0); err != nil {
			t.Fatal(err)
		}
		clk.Add(31 * time.Second) // slot 1 expired, slot 2 renewed 31s ago
		g := acquire(t, p, "o/r#3", 3, 0)
		if g.Slot != 1 || !g.Fresh || g.Created || g.Holder != "o/r#3" {
			t.Fatalf("next acquire: %+v, want expired slot 1 taken over", g)
		}
		l := leases(t, c)["shop.ai.slot-1"]
		if *l.Spec.LeaseTransitions != 1 || l.Labels[slots.LabelIssue] != "3" {
			t.Fatalf("taken-over lease: transitions %d labels %v", *l.Spec.LeaseTransitions, l.Labels)
		}
		_, err := p.Renew(ctx, "o/r#1", 1)
		mustErr(t, err, slots.ErrNotHolder)

		clk.Add(45 * time.Second) // slot 2 expired now, slot 1 (taken 45s ago) not
		freed, err := p.GC(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(freed) != 1 || freed[0].Slot != 2 || freed[0].Holder != "o/r#2" {
			t.Fatalf("gc freed %+v, want slot 2 of o/r#2", freed)
		}
		ls := leases(t, c)
		if _, ok := ls["shop.ai.slot-2"]; ok || len(ls) != 1 {
			t.Fatalf("after gc: %v", ls)
		}
	})
}

func TestRenewExtendsExpiry(t *testing.T) {
	onBoth(t, func(t *testing.T, c *cluster) {
		ctx := context.Background()
		clk := newClock()
		p := newPool(t, c, 1, withClock(clk), withTTL(time.Minute))
		g := acquire(t, p, "o/r#1", 1, 0)
		if want := clk.Now().Add(time.Minute); !g.Expires.Equal(want) {
			t.Fatalf("expires %s, want %s", g.Expires, want)
		}
		clk.Add(50 * time.Second)
		st, err := p.Renew(ctx, "o/r#1", 1)
		if err != nil {
			t.Fatal(err)
		}
		if want := clk.Now().Add(time.Minute); !st.Expires.Equal(want) {
			t.Fatalf("renewed expiry %s, want %s", st.Expires, want)
		}
		clk.Add(50 * time.Second) // 100s after acquire: alive only thanks to the renewal
		_, err = p.Acquire(ctx, slots.Claim{Key: "o/r#2"})
		mustErr(t, err, slots.ErrNoFreeSlot)
		status, err := p.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(status) != 1 || status[0].Expired || status[0].Holder != "o/r#1" || status[0].Age(clk.Now()) != 100*time.Second {
			t.Fatalf("status %+v", status)
		}
		_, err = p.Renew(ctx, "o/r#2", 1)
		mustErr(t, err, slots.ErrNotHolder)
	})
}

func TestEnvPoolsDoNotCollide(t *testing.T) {
	onBoth(t, func(t *testing.T, c *cluster) {
		ai := newPool(t, c, 1)
		repair := newPool(t, c, 1, withEnv("ai-repair"))
		a := acquire(t, ai, "o/r#1", 1, 0)
		r := acquire(t, repair, "o/r#2", 2, 0)
		if a.Slot != 1 || r.Slot != 1 || a.Lease == r.Lease {
			t.Fatalf("ai %+v, ai-repair %+v: want slot 1 in both, distinct leases", a, r)
		}
		_, err := ai.Acquire(context.Background(), slots.Claim{Key: "o/r#3"})
		mustErr(t, err, slots.ErrNoFreeSlot)
		st, err := repair.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(st) != 1 || st[0].Holder != "o/r#2" {
			t.Fatalf("ai-repair status %+v", st)
		}
		if _, err := repair.Release(context.Background(), "o/r#1", 1); !errors.Is(err, slots.ErrNotHolder) {
			t.Fatalf("ai holder released ai-repair slot: %v", err)
		}
	})
}

func TestAdoptLegacyConfigMapsOnce(t *testing.T) {
	onBoth(t, func(t *testing.T, c *cluster) {
		ctx := context.Background()
		legacy := c.newNamespace()
		created := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		for name, data := range map[string]map[string]string{
			"shop-env-1":  {"slot": "1", "env": "ai", "namespace": "shop-dev-1", "issue": "5", "createdAt": created.Format(time.RFC3339)},
			"shop-env-2":  {"slot": "2", "env": "ai-repair", "namespace": "shop-ai-staging", "issue": "6"},
			"shop-env-3":  {"slot": "3", "env": "ai", "namespace": "shop-dev-3", "pr": "9"},
			"shop-env-4":  {"slot": "4", "env": "ai", "namespace": "shop-dev-4"},
			"shop-env-x":  {"slot": "x"},
			"unrelated-1": {"issue": "7"},
		} {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: legacy}, Data: data}
			if _, err := c.kube.CoreV1().ConfigMaps(legacy).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		p := newPool(t, c, 4)
		opts := slots.AdoptOptions{Namespace: legacy, Prefix: "shop-env-", Repo: "o/r"}
		rep, err := p.Adopt(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range rep.Imported {
			got = append(got, fmt.Sprintf("%d=%s", s.Slot, s.Holder))
		}
		if strings.Join(got, ",") != "1=o/r#5,3=o/r#9" || len(rep.Skipped) != 2 {
			t.Fatalf("imported %v, skipped %+v", got, rep.Skipped)
		}
		ls := leases(t, c)
		if len(ls) != 2 || !ls["shop.ai.slot-1"].Spec.AcquireTime.Time.Equal(created) {
			t.Fatalf("leases after adopt: %v", ls)
		}
		rep, err = p.Adopt(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Imported) != 0 || len(leases(t, c)) != 2 {
			t.Fatalf("second adopt imported %+v", rep.Imported)
		}
		// Released after adoption: a later adopt must not resurrect it.
		if _, err := p.Release(ctx, "o/r#9", 3); err != nil {
			t.Fatal(err)
		}
		if rep, err = p.Adopt(ctx, opts); err != nil || len(rep.Imported) != 0 {
			t.Fatalf("third adopt: %+v, %v", rep, err)
		}
		if g := acquire(t, p, "o/r#5", 5, 0); g.Slot != 1 || g.Fresh {
			t.Fatalf("adopted holder re-acquires: %+v", g)
		}
		if _, err := p.Adopt(ctx, slots.AdoptOptions{Namespace: legacy, Prefix: "shop-env-"}); err == nil {
			t.Fatal("adopt without a repository succeeded")
		}
	})
}

// recorder is a Bootstrapper that records its calls and fails on demand.
type recorder struct {
	mu    sync.Mutex
	calls []string
	fail  error
}

func (r *recorder) Bootstrap(_ context.Context, slot int, ns string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("%d:%s", slot, ns))
	return r.fail
}

func TestNewEnvAndBootstrap(t *testing.T) {
	onBoth(t, func(t *testing.T, c *cluster) {
		ctx := context.Background()
		slotNS := map[int]string{1: c.sys + "-s1", 2: c.sys + "-s2"}
		boot := &recorder{}
		p := newPool(t, c, 2, withBoot(boot), withNS(func(n int) (string, error) { return slotNS[n], nil }))
		g := acquire(t, p, "o/r#1", 1, 0)
		if !g.NewEnv || !g.Bootstrapped || g.Namespace != slotNS[1] {
			t.Fatalf("first acquire %+v, want new-env and bootstrap in %s", g, slotNS[1])
		}
		mkNS(t, c, slotNS[1])
		if g = acquire(t, p, "o/r#1", 1, 0); g.NewEnv || g.Bootstrapped {
			t.Fatalf("re-acquire with namespace present: %+v, want no new-env", g)
		}
		if err := c.kube.CoreV1().Namespaces().Delete(ctx, slotNS[1], metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if g = acquire(t, p, "o/r#1", 1, 0); !g.NewEnv || !g.Bootstrapped {
			t.Fatalf("re-acquire after namespace deletion: %+v, want new-env and bootstrap", g)
		}
		if want := fmt.Sprintf("1:%s,1:%s", slotNS[1], slotNS[1]); strings.Join(boot.calls, ",") != want {
			t.Fatalf("bootstrap calls %v, want %s", boot.calls, want)
		}
		// A failed bootstrap gives the fresh slot back.
		boot.fail = errors.New("infra broke")
		_, err := p.Acquire(ctx, slots.Claim{Key: "o/r#2"})
		if err == nil || !strings.Contains(err.Error(), "infra broke") || !strings.Contains(err.Error(), "slot 2") {
			t.Fatalf("acquire with failing bootstrap: %v", err)
		}
		if _, held := leases(t, c)["shop.ai.slot-2"]; held {
			t.Fatal("slot 2 still leased after its bootstrap failed")
		}
	})
}

func mkNS(t *testing.T, c *cluster, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.kube.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })
}

func TestHolderOfLinkedPR(t *testing.T) {
	onBoth(t, func(t *testing.T, c *cluster) {
		ctx := context.Background()
		p := newPool(t, c, 2)
		acquire(t, p, "o/r#1", 1, 0)
		if _, err := p.Link(ctx, slots.Claim{Key: "o/r#1", Issue: 1, PR: 7}); err != nil {
			t.Fatal(err)
		}
		// The PR's close arrives under the PR's own key: its slot is the issue's.
		key, slot, err := p.Holder(ctx, slots.Claim{Key: "o/r#7", PR: 7})
		if err != nil || key != "o/r#1" || slot != 1 {
			t.Fatalf("Holder(o/r#7, pr 7) = %q, %d, %v; want o/r#1, 1", key, slot, err)
		}
		// The same PR number in another repository holds nothing.
		_, _, err = p.Holder(ctx, slots.Claim{Key: "x/y#7", PR: 7})
		mustErr(t, err, slots.ErrNotHeld)
		if _, err := p.Release(ctx, key, slot); err != nil {
			t.Fatal(err)
		}
		_, _, err = p.Holder(ctx, slots.Claim{Key: "o/r#7", PR: 7})
		mustErr(t, err, slots.ErrNotHeld)
	})
}
