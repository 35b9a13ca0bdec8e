package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/agentline/agentline/pkg/router"
)

type nopRuns struct{}

func (nopRuns) Create(_ context.Context, r *router.Route) (string, bool, error) {
	return r.RunName, false, nil
}

// BenchmarkServeHTTP measures signature check + parse + route + trust (cached) per delivery,
// with run creation stubbed out.
func BenchmarkServeHTTP(b *testing.B) {
	e := newEnv(b, func(o *Options, _ *router.Config) { o.Runs = nopRuns{}; o.Logger = nil })
	body := devLabel(b, nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	i := 0
	for b.Loop() {
		i++
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, request("issues", "d-"+strconv.Itoa(i), body))
		if rec.Code != http.StatusAccepted {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
