package runs

import (
	"github.com/agentline/agentline/pkg/router"
)

// Extension returns a route in the shape the agentline ClusterInterceptor hands to Triggers
// as `extensions.agentline` (contract: triggers/README.md): every field present, every value
// a string, so the TriggerBinding always resolves and the TriggerTemplate creates the same
// PipelineRun as Build.
//
//	{"pipeline", "run-name", "kind", "key",
//	 "labels": {"repo", "issue", "pr", "kind", "delivery"},
//	 "params": {<every router.ParamNames entry>}}
func Extension(route *router.Route) map[string]any {
	l := Labels(route)
	params := make(map[string]string, len(router.ParamNames))
	for _, n := range router.ParamNames {
		params[n] = route.Params[n]
	}
	kind := route.Kind
	if kind == "" {
		kind = route.Pipeline
	}
	return map[string]any{
		"pipeline": route.Pipeline,
		"run-name": route.RunName,
		"kind":     kind,
		"key":      route.Key,
		"labels": map[string]string{
			"repo":     l[LabelRepo],
			"issue":    l[LabelIssue],
			"pr":       l[LabelPR],
			"kind":     l[LabelKind],
			"delivery": l[LabelDelivery],
		},
		"params": params,
	}
}
