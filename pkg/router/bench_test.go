package router

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestRouteJSON(t *testing.T) {
	d, err := Decide("issues", delivery, fixture(t, "issues.labeled.json", map[string]any{"label.name": "[ai-dev]"}), testConfig())
	if err != nil || d.Route == nil {
		t.Fatalf("%v %+v", err, d)
	}
	raw, err := json.Marshal(d.Route)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	_ = json.Unmarshal(raw, &fields)
	for _, f := range []string{"action", "pipeline", "kind", "repo", "repoURL", "issue", "key", "runName", "delivery", "params"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("JSON lacks %q: %s", f, raw)
		}
	}
	var back Route
	if err := json.Unmarshal(raw, &back); err != nil || !reflect.DeepEqual(&back, d.Route) {
		t.Fatalf("round trip: %v\n%+v\n%+v", err, back, *d.Route)
	}
}

func BenchmarkDecide(b *testing.B) {
	payload := fixture(b, "issues.labeled.json", map[string]any{"label.name": "[ai-dev]"})
	cfg := testConfig()
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if d, err := Decide("issues", delivery, payload, cfg); err != nil || d.Route == nil {
			b.Fatal(err)
		}
	}
}
