package agent

import (
	"fmt"
	"sort"
	"strings"
)

// ReasoningEfforts are the allowed reasoning efforts.
var ReasoningEfforts = []string{"low", "medium", "high", "xhigh"}

// KnownModels are the model names accepted from env, labels and flags in addition to the model of
// the stack file's codex block (which is the team's own choice and always accepted).
var KnownModels = []string{
	"gpt-5.3-codex", "gpt-5.2-codex", "gpt-5.2", "gpt-5.1-codex-max", "gpt-5.1-codex",
	"gpt-5.1-codex-mini", "gpt-5.1", "gpt-5-codex", "gpt-5", "gpt-5-mini", "o3", "o4-mini",
}

// Label prefixes selecting the model and the reasoning effort, e.g. `[ai-model-gpt-5.2]`,
// `[ai-reasoning-high]` (the brackets are optional).
const (
	ModelLabelPrefix  = "ai-model-"
	EffortLabelPrefix = "ai-reasoning-"
)

// ModelInputs are the sources of the model and effort, lowest precedence first:
// config < env < labels < flags.
type ModelInputs struct {
	ConfigModel, ConfigEffort string
	EnvModel, EnvEffort       string // AGENTLINE_MODEL, AGENTLINE_REASONING_EFFORT
	Labels                    []string
	FlagModel, FlagEffort     string
}

// ModelChoice is the chosen model and effort with where each came from.
type ModelChoice struct {
	Model, ModelSource   string
	Effort, EffortSource string
}

// ChooseModel applies the precedence config < env < issue labels < flags. Values other than the
// config's must be known (KnownModels, the config's model, ReasoningEfforts); unknown values and
// conflicting labels are errors that list the allowed values.
func ChooseModel(in ModelInputs) (ModelChoice, error) {
	allowedModels := append([]string(nil), KnownModels...)
	if in.ConfigModel != "" && !contains(allowedModels, in.ConfigModel) {
		allowedModels = append(allowedModels, in.ConfigModel)
	}
	labelModel, labelEffort, err := modelLabels(in.Labels)
	if err != nil {
		return ModelChoice{}, err
	}
	var c ModelChoice
	for _, s := range []struct{ v, src string }{
		{in.ConfigModel, "codex.model"},
		{in.EnvModel, "AGENTLINE_MODEL"},
		{labelModel, "label [" + ModelLabelPrefix + labelModel + "]"},
		{in.FlagModel, "--model"},
	} {
		v := strings.TrimSpace(s.v)
		if v == "" {
			continue
		}
		if s.src != "codex.model" && !contains(allowedModels, v) {
			return ModelChoice{}, fmt.Errorf("%s: unknown model %q (allowed: %s)", s.src, v, strings.Join(sorted(allowedModels), ", "))
		}
		c.Model, c.ModelSource = v, s.src
	}
	for _, s := range []struct{ v, src string }{
		{in.ConfigEffort, "codex.modelReasoningEffort"},
		{in.EnvEffort, "AGENTLINE_REASONING_EFFORT"},
		{labelEffort, "label [" + EffortLabelPrefix + labelEffort + "]"},
		{in.FlagEffort, "--reasoning-effort"},
	} {
		v := strings.ToLower(strings.TrimSpace(s.v))
		if v == "" {
			continue
		}
		if !contains(ReasoningEfforts, v) {
			return ModelChoice{}, fmt.Errorf("%s: unknown reasoning effort %q (allowed: %s)", s.src, v, strings.Join(ReasoningEfforts, ", "))
		}
		c.Effort, c.EffortSource = v, s.src
	}
	return c, nil
}

// modelLabels finds the model and effort labels; two different values of one kind are an error.
func modelLabels(labels []string) (model, effort string, err error) {
	for _, l := range labels {
		name := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(l), "["), "]")
		low := strings.ToLower(name)
		switch {
		case strings.HasPrefix(low, ModelLabelPrefix):
			v := name[len(ModelLabelPrefix):]
			if model != "" && model != v {
				return "", "", fmt.Errorf("issue labels select two models: %q and %q; keep one", model, v)
			}
			model = v
		case strings.HasPrefix(low, EffortLabelPrefix):
			v := low[len(EffortLabelPrefix):]
			if effort != "" && effort != v {
				return "", "", fmt.Errorf("issue labels select two reasoning efforts: %q and %q; keep one", effort, v)
			}
			effort = v
		}
	}
	return model, effort, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func sorted(l []string) []string {
	out := append([]string(nil), l...)
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
