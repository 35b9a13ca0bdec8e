package images

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkMirror compares a first mirror of 10 images with re-mirroring them once present.
// The blob-uploads/op metric must be 0 for "present".
func BenchmarkMirror(b *testing.B) {
	src := newTestRegistry(b, false)
	var mirrors []Mirror
	for i := range 10 {
		repo := fmt.Sprintf("team/img%d:1", i)
		src.pushImage(b, repo, int64(100+i))
		mirrors = append(mirrors, Mirror{Name: fmt.Sprintf("img%d", i), From: src.host + "/" + repo})
	}
	ctx := context.Background()
	withDst := func(dst *testRegistry) []Mirror {
		out := append([]Mirror(nil), mirrors...)
		for i := range out {
			out[i].To = dst.host + "/mirror/" + out[i].Name + ":1"
		}
		return out
	}

	b.Run("first", func(b *testing.B) {
		uploads := 0
		for b.Loop() {
			b.StopTimer()
			dst := newTestRegistry(b, false)
			m := &Mirrorer{Registries: NewRegistries(src.host, dst.host)}
			mi := withDst(dst)
			b.StartTimer()
			if _, err := m.Run(ctx, mi); err != nil {
				b.Fatal(err)
			}
			u, _ := dst.counts()
			uploads += u
		}
		b.ReportMetric(float64(uploads)/float64(b.N), "blob-uploads/op")
	})

	b.Run("present", func(b *testing.B) {
		dst := newTestRegistry(b, false)
		m := &Mirrorer{Registries: NewRegistries(src.host, dst.host)}
		mi := withDst(dst)
		if _, err := m.Run(ctx, mi); err != nil {
			b.Fatal(err)
		}
		dst.reset()
		for b.Loop() {
			res, err := m.Run(ctx, mi)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range res {
				if r.Action != ActionSkipped {
					b.Fatalf("%s: %s, want skipped", r.Name, r.Action)
				}
			}
		}
		u, _ := dst.counts()
		if u != 0 {
			b.Errorf("re-mirroring uploaded %d blobs", u)
		}
		b.ReportMetric(float64(u)/float64(b.N), "blob-uploads/op")
	})
}
