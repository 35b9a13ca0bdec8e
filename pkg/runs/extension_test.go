package runs

import (
	"encoding/json"
	"testing"

	"github.com/agentline/agentline/pkg/router"
)

// TestExtensionMatchesBuild renders the Triggers path's PipelineRun fields from the extension
// (as the TriggerBinding/TriggerTemplate do) and compares them with Build's.
func TestExtensionMatchesBuild(t *testing.T) {
	for _, route := range []*router.Route{reviewRoute(t), routeFrom(t, "push.with-new-branch.json", delivery, nil)} {
		pr, err := Build(route, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(Extension(route))
		if err != nil {
			t.Fatal(err)
		}
		var ext struct {
			Pipeline string            `json:"pipeline"`
			RunName  string            `json:"run-name"`
			Kind     string            `json:"kind"`
			Key      string            `json:"key"`
			Labels   map[string]string `json:"labels"`
			Params   map[string]string `json:"params"`
		}
		if err := json.Unmarshal(raw, &ext); err != nil {
			t.Fatal(err)
		}
		if ext.RunName != pr.Name || ext.Pipeline != pr.Spec.PipelineRef.Name || ext.Key != pr.Annotations[AnnotationKey] ||
			ext.Params["repo"] != pr.Annotations[AnnotationRepo] {
			t.Fatalf("extension %s does not match run %s", raw, pr.Name)
		}
		labels := map[string]string{LabelState: StateQueued}
		for k, v := range ext.Labels {
			labels["agentline.dev/"+k] = v
		}
		if len(labels) != len(pr.Labels) {
			t.Fatalf("labels %v vs %v", labels, pr.Labels)
		}
		for k, v := range pr.Labels {
			if labels[k] != v {
				t.Errorf("label %s: extension %q, Build %q", k, labels[k], v)
			}
		}
		if len(ext.Params) != len(router.ParamNames) {
			t.Fatalf("params %v", ext.Params)
		}
		for _, p := range pr.Spec.Params {
			if v, ok := ext.Params[p.Name]; !ok || v != p.Value.StringVal {
				t.Errorf("param %s: extension %q, Build %q", p.Name, v, p.Value.StringVal)
			}
		}
	}
}
