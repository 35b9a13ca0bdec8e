package slots_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/agentline/agentline/pkg/slots"
)

// BenchmarkGrantTenOfFifty measures, on the local stack, the time from 50 contenders starting at
// once until the 10 slots of an empty pool are all granted (metric ms/10-grants; ns/op also counts
// the 40 losers' "no free slot" answers).
func BenchmarkGrantTenOfFifty(b *testing.B) {
	c := onStack(b)
	var toTenth []time.Duration
	for i := 0; b.Loop(); i++ {
		p, err := slots.New(c.kube, slots.Config{Project: fmt.Sprintf("bench%d", i), Env: "ai", MaxSlots: 10, SystemNamespace: c.sys, TTL: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		var mu sync.Mutex
		var granted []time.Duration
		var wg sync.WaitGroup
		start := make(chan struct{})
		for j := 1; j <= 50; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				t0 := time.Now()
				if _, err := p.Acquire(context.Background(), slots.Claim{Key: fmt.Sprintf("o/r#%d", j)}); err == nil {
					mu.Lock()
					granted = append(granted, time.Since(t0))
					mu.Unlock()
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(granted) != 10 {
			b.Fatalf("%d grants, want 10", len(granted))
		}
		sort.Slice(granted, func(a, z int) bool { return granted[a] < granted[z] })
		toTenth = append(toTenth, granted[9])
	}
	b.ReportMetric(float64(median(toTenth).Microseconds())/1000, "ms/10-grants")
}

// BenchmarkReleaseToNextGrant measures, on the local stack, the time from a holder's release to
// the grant of the waiter queued behind it (pool of one slot; the waiter is woken by the Lease
// watch).
func BenchmarkReleaseToNextGrant(b *testing.B) {
	c := onStack(b)
	p, err := slots.New(c.kube, slots.Config{Project: "benchwait", Env: "ai", MaxSlots: 1, SystemNamespace: c.sys, TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	holder := "o/r#0"
	if _, err := p.Acquire(ctx, slots.Claim{Key: holder}); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	for i := 1; b.Loop(); i++ {
		b.StopTimer()
		next := fmt.Sprintf("o/r#%d", i)
		out := &syncBuffer{}
		done := make(chan time.Time, 1)
		go func() {
			if _, err := p.AcquireWait(ctx, slots.Claim{Key: next}, slots.WaitOptions{Timeout: time.Minute, Progress: out}); err != nil {
				b.Error(err)
			}
			done <- time.Now()
		}()
		eventually(b, next+" queued", 20*time.Second, func() bool { return out.String() != "" })
		b.StartTimer()
		released := time.Now()
		if _, err := p.Release(ctx, holder, 1); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, (<-done).Sub(released))
		holder = next
	}
	b.ReportMetric(float64(median(lat).Microseconds())/1000, "ms/release-to-grant")
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(a, z int) bool { return s[a] < s[z] })
	return s[len(s)/2]
}
