package slots_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/agentline/agentline/pkg/slots"
)

// contest runs n acquirers with distinct keys against p at once and returns the grants by key and
// the errors.
func contest(p *slots.Pool, n int, key func(i int) string) (map[string]*slots.Grant, []error) {
	var mu sync.Mutex
	grants := map[string]*slots.Grant{}
	var errs []error
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			g, err := p.Acquire(context.Background(), slots.Claim{Key: key(i), Issue: i})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			grants[key(i)] = g
		}()
	}
	close(start)
	wg.Wait()
	return grants, errs
}

func TestFiftyAcquirersTenSlots(t *testing.T) {
	c := onStack(t)
	p := newPool(t, c, 10)
	grants, errs := contest(p, 50, func(i int) string { return fmt.Sprintf("o/r#%d", i) })
	checkContest(t, c, grants, errs)
}

// checkContest asserts 10 distinct winners whose Leases name them, and 40 "no free slot" losers.
func checkContest(t *testing.T, c *cluster, grants map[string]*slots.Grant, errs []error) {
	t.Helper()
	bySlot := map[int]string{}
	for key, g := range grants {
		if prev, dup := bySlot[g.Slot]; dup {
			t.Errorf("slot %d granted to both %s and %s", g.Slot, prev, key)
		}
		if g.Slot < 1 || g.Slot > 10 || !g.Created || g.Holder != key {
			t.Errorf("grant for %s: %+v", key, g)
		}
		bySlot[g.Slot] = key
	}
	if len(grants) != 10 || len(bySlot) != 10 {
		t.Errorf("%d grants on %d slots, want 10 on 10", len(grants), len(bySlot))
	}
	if len(errs) != 40 {
		t.Errorf("%d failures, want 40", len(errs))
	}
	for _, err := range errs {
		if !errors.Is(err, slots.ErrNoFreeSlot) || !strings.Contains(err.Error(), "10 of 10 held") {
			t.Errorf("loser error %v, want no free slot with 10 of 10 held", err)
		}
	}
	ls := leases(t, c)
	if len(ls) != 10 {
		t.Errorf("%d leases, want 10", len(ls))
	}
	for slot, key := range bySlot {
		l := ls[slots.LeaseName("shop", "ai", slot)]
		if holderOf(l) != key || l.Labels[slots.LabelSlot] != fmt.Sprint(slot) {
			t.Errorf("lease of slot %d: holder %q labels %v, want %s", slot, holderOf(l), l.Labels, key)
		}
	}
}

func TestConcurrentAcquiresOfOneKeyShareASlot(t *testing.T) {
	c := onStack(t)
	p := newPool(t, c, 10)
	acquire(t, p, "o/r#100", 100, 0) // slot 1 taken, so the racers start at slot 2
	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			g, err := p.Acquire(context.Background(), slots.Claim{Key: "o/r#7", Issue: 7})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got[g.Slot]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	held := 0
	for _, l := range leases(t, c) {
		if holderOf(l) == "o/r#7" {
			held++
		}
	}
	if len(got) != 1 || held != 1 {
		t.Fatalf("one key got slots %v and holds %d leases, want one slot", got, held)
	}
}
