package slots_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentline/agentline/pkg/slots"
)

type waitResult struct {
	g   *slots.Grant
	err error
}

func startWaiter(p *slots.Pool, key string, timeout time.Duration, progress *syncBuffer) <-chan waitResult {
	ch := make(chan waitResult, 1)
	go func() {
		g, err := p.AcquireWait(context.Background(), slots.Claim{Key: key}, slots.WaitOptions{Timeout: timeout, Progress: progress})
		ch <- waitResult{g, err}
	}()
	return ch
}

func receive(t *testing.T, what string, ch <-chan waitResult) waitResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no result after 30s", what)
	}
	return waitResult{}
}

func TestAcquireWaitQueuesInArrivalOrder(t *testing.T) {
	onBoth(t, func(t *testing.T, c *cluster) {
		ctx := context.Background()
		p := newPool(t, c, 1)
		acquire(t, p, "o/r#1", 1, 0)
		out2, out3 := &syncBuffer{}, &syncBuffer{}
		w2 := startWaiter(p, "o/r#2", time.Minute, out2)
		eventually(t, "o/r#2 queued first", 20*time.Second, func() bool { return strings.Contains(out2.String(), "place 1 of 1") })
		w3 := startWaiter(p, "o/r#3", time.Minute, out3)
		eventually(t, "o/r#3 queued second", 20*time.Second, func() bool { return strings.Contains(out3.String(), "place 2 of 2") })
		contains(t, out3.String(), "1=o/r#1")

		if _, err := p.Release(ctx, "o/r#1", 1); err != nil {
			t.Fatal(err)
		}
		r := receive(t, "first waiter", w2)
		if r.err != nil || r.g.Slot != 1 || r.g.Holder != "o/r#2" {
			t.Fatalf("first waiter: %+v %v, want slot 1", r.g, r.err)
		}
		if h := holderOf(leases(t, c)["shop.ai.slot-1"]); h != "o/r#2" {
			t.Fatalf("slot 1 held by %q, want o/r#2 (the earlier waiter)", h)
		}
		eventually(t, "o/r#3 moves up", 20*time.Second, func() bool { return strings.Contains(out3.String(), "place 1 of 1") })
		if _, err := p.Release(ctx, "o/r#2", 1); err != nil {
			t.Fatal(err)
		}
		if r := receive(t, "second waiter", w3); r.err != nil || r.g.Slot != 1 {
			t.Fatalf("second waiter: %+v %v", r.g, r.err)
		}
		ws, err := c.kube.CoordinationV1().Leases(c.sys).List(ctx, metav1.ListOptions{LabelSelector: slots.LabelKind + "=" + slots.KindWaiter})
		if err != nil {
			t.Fatal(err)
		}
		if len(ws.Items) != 0 {
			t.Fatalf("%d waiter leases left behind", len(ws.Items))
		}
	})
}

func TestAcquireWaitGivesUp(t *testing.T) {
	onBoth(t, func(t *testing.T, c *cluster) {
		p := newPool(t, c, 1)
		acquire(t, p, "o/r#1", 1, 0)
		out := &syncBuffer{}
		r := receive(t, "waiter", startWaiter(p, "o/r#2", 700*time.Millisecond, out))
		mustErr(t, r.err, slots.ErrNoFreeSlot)
		contains(t, r.err.Error(), "gave up after waiting 700ms")
		contains(t, r.err.Error(), "1=o/r#1")
		contains(t, out.String(), "place 1 of 1")
		if h := holderOf(leases(t, c)["shop.ai.slot-1"]); h != "o/r#1" {
			t.Fatalf("slot 1 held by %q", h)
		}
	})
}
