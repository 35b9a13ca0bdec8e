package agent

import (
	"strings"
	"testing"
)

func TestChooseModelPrecedence(t *testing.T) {
	cases := []struct {
		name                 string
		in                   ModelInputs
		model, msrc, eff, es string
	}{
		{"config only", ModelInputs{ConfigModel: "team-model", ConfigEffort: "medium"}, "team-model", "codex.model", "medium", "codex.modelReasoningEffort"},
		{"env over config", ModelInputs{ConfigModel: "team-model", EnvModel: "gpt-5.2", ConfigEffort: "low", EnvEffort: "high"}, "gpt-5.2", "AGENTLINE_MODEL", "high", "AGENTLINE_REASONING_EFFORT"},
		{"labels over env", ModelInputs{EnvModel: "gpt-5.2", EnvEffort: "low", Labels: []string{"bug", "[ai-model-gpt-5.3-codex]", "[ai-reasoning-xhigh]"}},
			"gpt-5.3-codex", "label [ai-model-gpt-5.3-codex]", "xhigh", "label [ai-reasoning-xhigh]"},
		{"labels without brackets", ModelInputs{Labels: []string{"ai-model-o3", "AI-Reasoning-High"}}, "o3", "label [ai-model-o3]", "high", "label [ai-reasoning-high]"},
		{"flags over labels", ModelInputs{Labels: []string{"[ai-model-o3]", "[ai-reasoning-low]"}, FlagModel: "gpt-5.2-codex", FlagEffort: "medium"},
			"gpt-5.2-codex", "--model", "medium", "--reasoning-effort"},
		{"config model accepted from labels", ModelInputs{ConfigModel: "team-model", Labels: []string{"[ai-model-team-model]"}}, "team-model", "label [ai-model-team-model]", "", ""},
		{"nothing", ModelInputs{}, "", "", "", ""},
	}
	for _, c := range cases {
		got, err := ChooseModel(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got.Model != c.model || got.ModelSource != c.msrc || got.Effort != c.eff || got.EffortSource != c.es {
			t.Errorf("%s: got %+v", c.name, got)
		}
	}
}

func TestChooseModelErrors(t *testing.T) {
	cases := []struct {
		in   ModelInputs
		want []string
	}{
		{ModelInputs{Labels: []string{"[ai-model-gpt-99]"}}, []string{"label [ai-model-gpt-99]", `unknown model "gpt-99"`, "gpt-5.3-codex", "o4-mini"}},
		{ModelInputs{EnvModel: "nope"}, []string{"AGENTLINE_MODEL", `"nope"`, "allowed:"}},
		{ModelInputs{FlagEffort: "extreme"}, []string{"--reasoning-effort", `"extreme"`, "allowed: low, medium, high, xhigh"}},
		{ModelInputs{ConfigEffort: "max"}, []string{"codex.modelReasoningEffort", "allowed: low, medium, high, xhigh"}},
		{ModelInputs{Labels: []string{"[ai-model-o3]", "[ai-model-gpt-5.2]"}}, []string{"two models", "o3", "gpt-5.2"}},
		{ModelInputs{Labels: []string{"[ai-reasoning-low]", "[ai-reasoning-high]"}}, []string{"two reasoning efforts"}},
	}
	for _, c := range cases {
		_, err := ChooseModel(c.in)
		if err == nil {
			t.Errorf("%+v: no error", c.in)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: error %q lacks %q", c.in, err, w)
			}
		}
	}
}
