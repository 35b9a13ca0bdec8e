package router

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Keys of the `agentline-config` ConfigMap read by ConfigFromMap. The ConfigMap is shared with
// other parts of the controller; keys not listed here are ignored by the router.
const (
	// KeyTriggerLabelPlan is the issue label (and comment marker) that starts `ai-plan` and
	// `ai-plan-review`. Default `[ai-plan]`.
	KeyTriggerLabelPlan = "trigger-label-plan"
	// KeyTriggerLabelDev is the issue label that starts `ai-dev`. Default `[ai-dev]`.
	KeyTriggerLabelDev = "trigger-label-dev"
	// KeyTriggerLabelRepair is the issue label that starts `ai-repair`. Default `[ai-repair]`.
	KeyTriggerLabelRepair = "trigger-label-repair"
	// KeyAgentBranchPrefix is the prefix of the branches the agent works on (`codex/issue-N`,
	// `codex/ai-repair-N`). Default `codex/`.
	KeyAgentBranchPrefix = "agent-branch-prefix"
	// KeyAllowNonAgentReviewHeads ("true"/"false", default false) makes change requests on PRs
	// whose head is not an agent branch start `ai-dev-review`, and closing such PRs start
	// `cleanup`. Off by default: humans' branches are left alone.
	KeyAllowNonAgentReviewHeads = "allow-non-agent-review-heads"
	// KeyAllowedUsers lists the GitHub logins (comma, space or newline separated, case
	// insensitive, an optional leading `@` is dropped) who may start runs. `*` allows every
	// user; write permission on the repository is required in every case. Default: nobody.
	KeyAllowedUsers = "allowed-users"
	// KeyAllowedBots lists bot logins (e.g. `renovate[bot]`) whose events are routed; every other
	// bot is ignored. Default: none.
	KeyAllowedBots = "allowed-bots"
	// KeyIgnoredUsers lists logins whose events are always ignored, typically the account
	// agentline itself comments as. Default: none.
	KeyIgnoredUsers = "ignored-users"
	// KeyLanguage is the language of agentline's GitHub comments and the `lang` param: `en` or
	// `ru`. Default `en`.
	KeyLanguage = "language"
	// KeyModel is passed as the `model` param (empty: the pipeline's/agent's default).
	KeyModel = "model"
	// KeyReasoningEffort is passed as the `reasoning-effort` param (empty: the default).
	KeyReasoningEffort = "reasoning-effort"
	// KeyGitHubURL is GitHub's REST API base URL (GitHub Enterprise: https://HOST/api/v3/),
	// passed to every run as `github-url` (the controller's API client uses it too). Default
	// DefaultGitHubURL.
	KeyGitHubURL = "github-url"
	// KeyAgentImage is the image the agent task runs the Codex CLI in, passed to every run as
	// `agent-image`. Default DefaultAgentImage.
	KeyAgentImage = "agent-image"
)

// Defaults of the run params that the Pipelines declare with the same defaults (a test keeps
// them equal).
const (
	DefaultGitHubURL  = "https://api.github.com/"
	DefaultAgentImage = "ghcr.io/openai/codex-universal:latest"
)

// Config is the router's part of the `agentline-config` ConfigMap.
type Config struct {
	// PlanLabel, DevLabel and RepairLabel are the trigger labels.
	PlanLabel, DevLabel, RepairLabel string
	// AgentBranchPrefix is the prefix of agent branches, e.g. `codex/`.
	AgentBranchPrefix string
	// AllowNonAgentReviewHeads routes reviews and closes of PRs whose head is not an agent
	// branch.
	AllowNonAgentReviewHeads bool
	// AllowedUsers are the logins (lower case) allowed to start runs; "*" allows everyone
	// (write permission is still required by the webhook's trust check).
	AllowedUsers []string
	// AllowedBots are the bot logins (lower case) whose events are routed.
	AllowedBots []string
	// IgnoredUsers are logins (lower case) whose events are always ignored.
	IgnoredUsers []string
	// Language is `en` or `ru`.
	Language string
	// Model and ReasoningEffort become the `model` and `reasoning-effort` params.
	Model, ReasoningEffort string
	// GitHubURL and AgentImage become the `github-url` and `agent-image` params.
	GitHubURL, AgentImage string
}

// DefaultConfig returns the configuration used for keys absent from the ConfigMap.
func DefaultConfig() Config {
	return Config{
		PlanLabel:         "[ai-plan]",
		DevLabel:          "[ai-dev]",
		RepairLabel:       "[ai-repair]",
		AgentBranchPrefix: "codex/",
		Language:          "en",
		GitHubURL:         DefaultGitHubURL,
		AgentImage:        DefaultAgentImage,
	}
}

var (
	branchPrefixRE = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
	loginRE        = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\[bot\])?$`)
	tokenRE        = regexp.MustCompile(`^[A-Za-z0-9._:-]*$`)
)

// ConfigFromMap reads the router configuration from the data of the `agentline-config`
// ConfigMap, starting from DefaultConfig. Errors name the offending key.
func ConfigFromMap(data map[string]string) (Config, error) {
	c := DefaultConfig()
	for key, dst := range map[string]*string{
		KeyTriggerLabelPlan:   &c.PlanLabel,
		KeyTriggerLabelDev:    &c.DevLabel,
		KeyTriggerLabelRepair: &c.RepairLabel,
	} {
		if v, ok := data[key]; ok {
			v = strings.TrimSpace(v)
			if v == "" {
				return Config{}, fmt.Errorf("agentline-config: key %q: label must not be empty", key)
			}
			*dst = v
		}
	}
	if c.PlanLabel == c.DevLabel || c.PlanLabel == c.RepairLabel || c.DevLabel == c.RepairLabel {
		return Config{}, fmt.Errorf("agentline-config: keys %q, %q, %q: trigger labels must differ (got %q, %q, %q)",
			KeyTriggerLabelPlan, KeyTriggerLabelDev, KeyTriggerLabelRepair, c.PlanLabel, c.DevLabel, c.RepairLabel)
	}
	if v, ok := data[KeyAgentBranchPrefix]; ok {
		v = strings.TrimSpace(v)
		if !branchPrefixRE.MatchString(v) {
			return Config{}, fmt.Errorf("agentline-config: key %q: %q is not a branch prefix", KeyAgentBranchPrefix, v)
		}
		c.AgentBranchPrefix = v
	}
	if v, ok := data[KeyAllowNonAgentReviewHeads]; ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return Config{}, fmt.Errorf("agentline-config: key %q: %q is not a boolean", KeyAllowNonAgentReviewHeads, v)
		}
		c.AllowNonAgentReviewHeads = b
	}
	var err error
	if c.AllowedUsers, err = parseLogins(data, KeyAllowedUsers, true); err != nil {
		return Config{}, err
	}
	if c.AllowedBots, err = parseLogins(data, KeyAllowedBots, false); err != nil {
		return Config{}, err
	}
	if c.IgnoredUsers, err = parseLogins(data, KeyIgnoredUsers, false); err != nil {
		return Config{}, err
	}
	if v, ok := data[KeyLanguage]; ok {
		v = strings.ToLower(strings.TrimSpace(v))
		if v != "en" && v != "ru" {
			return Config{}, fmt.Errorf("agentline-config: key %q: %q is not a supported language (en, ru)", KeyLanguage, v)
		}
		c.Language = v
	}
	if v := strings.TrimSpace(data[KeyGitHubURL]); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Config{}, fmt.Errorf("agentline-config: key %q: %q is not an http(s) URL", KeyGitHubURL, v)
		}
		c.GitHubURL = v
	}
	if v := strings.TrimSpace(data[KeyAgentImage]); v != "" {
		if strings.ContainsAny(v, " \t\n\r") {
			return Config{}, fmt.Errorf("agentline-config: key %q: %q is not an image reference", KeyAgentImage, v)
		}
		c.AgentImage = v
	}
	for key, dst := range map[string]*string{KeyModel: &c.Model, KeyReasoningEffort: &c.ReasoningEffort} {
		if v, ok := data[key]; ok {
			v = strings.TrimSpace(v)
			if !tokenRE.MatchString(v) {
				return Config{}, fmt.Errorf("agentline-config: key %q: %q has characters other than letters, digits, '.', '_', ':', '-'", key, v)
			}
			*dst = v
		}
	}
	return c, nil
}

func parseLogins(data map[string]string, key string, allowStar bool) ([]string, error) {
	v, ok := data[key]
	if !ok {
		return nil, nil
	}
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' }) {
		f = strings.ToLower(strings.TrimPrefix(f, "@"))
		if f == "*" && allowStar {
			out = append(out, f)
			continue
		}
		if !loginRE.MatchString(f) {
			return nil, fmt.Errorf("agentline-config: key %q: %q is not a GitHub login", key, f)
		}
		out = append(out, f)
	}
	return out, nil
}

// UserAllowed reports whether login is in AllowedUsers (or AllowedUsers holds "*").
func (c Config) UserAllowed(login string) bool {
	login = strings.ToLower(login)
	for _, u := range c.AllowedUsers {
		if u == "*" || u == login {
			return true
		}
	}
	return false
}

// BotAllowed reports whether the bot login is in AllowedBots.
func (c Config) BotAllowed(login string) bool {
	return contains(c.AllowedBots, strings.ToLower(login))
}

func (c Config) userIgnored(login string) bool {
	return contains(c.IgnoredUsers, strings.ToLower(login))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
