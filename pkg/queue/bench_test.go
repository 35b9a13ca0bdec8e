package queue

import (
	"fmt"
	"testing"
)

// BenchmarkDecide plans a queue of 500 runs (100 active, 400 pending over 50 repositories).
func BenchmarkDecide(b *testing.B) {
	var rs []Run
	for i := 0; i < 500; i++ {
		phase := PhasePending
		if i < 100 {
			phase = PhaseActive
		}
		r := run(fmt.Sprintf("r%03d", i), fmt.Sprintf("acme/shop%d#%d", i%50, i), "ai-dev", phase, i)
		r.Repo = fmt.Sprintf("acme/shop%d", i%50)
		rs = append(rs, r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Decide(rs, nil, Limits{MaxSlots: 4})
	}
}
