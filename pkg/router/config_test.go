package router

import (
	"reflect"
	"strings"
	"testing"
)

func TestConfigFromMapDefaults(t *testing.T) {
	c, err := ConfigFromMap(map[string]string{"max-slots": "4", "dashboard-url": "http://x"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, DefaultConfig()) {
		t.Fatalf("got %+v, want defaults %+v", c, DefaultConfig())
	}
	if c.UserAllowed("anyone") {
		t.Fatal("default config allows users")
	}
}

func TestConfigFromMap(t *testing.T) {
	c, err := ConfigFromMap(map[string]string{
		KeyTriggerLabelPlan:         " plan ",
		KeyTriggerLabelDev:          "dev",
		KeyTriggerLabelRepair:       "repair",
		KeyAgentBranchPrefix:        "agent/",
		KeyAllowNonAgentReviewHeads: "true",
		KeyAllowedUsers:             "@Alice, bob\ncarol-x",
		KeyAllowedBots:              "renovate[bot]",
		KeyIgnoredUsers:             "agentline-machine",
		KeyLanguage:                 "RU",
		KeyModel:                    "gpt-5-codex",
		KeyReasoningEffort:          "high",
		KeyGitHubURL:                "https://ghe.example.com/api/v3/",
		KeyAgentImage:               "registry.example.com/team/agent:2",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		PlanLabel: "plan", DevLabel: "dev", RepairLabel: "repair", AgentBranchPrefix: "agent/",
		AllowNonAgentReviewHeads: true, AllowedUsers: []string{"alice", "bob", "carol-x"},
		AllowedBots: []string{"renovate[bot]"}, IgnoredUsers: []string{"agentline-machine"},
		Language: "ru", Model: "gpt-5-codex", ReasoningEffort: "high",
		GitHubURL: "https://ghe.example.com/api/v3/", AgentImage: "registry.example.com/team/agent:2",
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	if !c.UserAllowed("ALICE") || c.UserAllowed("dave") || !c.BotAllowed("Renovate[bot]") || c.BotAllowed("dependabot[bot]") {
		t.Fatal("allow lists misbehave")
	}
	star, err := ConfigFromMap(map[string]string{KeyAllowedUsers: "*"})
	if err != nil || !star.UserAllowed("whoever") {
		t.Fatalf("* should allow everyone: %v", err)
	}
}

func TestConfigFromMapErrors(t *testing.T) {
	for _, tc := range []struct {
		data map[string]string
		key  string
	}{
		{map[string]string{KeyAllowNonAgentReviewHeads: "yes please"}, KeyAllowNonAgentReviewHeads},
		{map[string]string{KeyLanguage: "de"}, KeyLanguage},
		{map[string]string{KeyAllowedUsers: "alice, bad user!"}, KeyAllowedUsers},
		{map[string]string{KeyAllowedBots: "*"}, KeyAllowedBots},
		{map[string]string{KeyTriggerLabelDev: "  "}, KeyTriggerLabelDev},
		{map[string]string{KeyTriggerLabelDev: "[ai-plan]"}, KeyTriggerLabelDev},
		{map[string]string{KeyAgentBranchPrefix: "co dex/"}, KeyAgentBranchPrefix},
		{map[string]string{KeyModel: "gpt; rm -rf"}, KeyModel},
		{map[string]string{KeyGitHubURL: "ghe.example.com"}, KeyGitHubURL},
		{map[string]string{KeyAgentImage: "agent image"}, KeyAgentImage},
	} {
		_, err := ConfigFromMap(tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), "agentline-config") {
			t.Errorf("%v: err = %v, want one naming %q", tc.data, err, tc.key)
		}
	}
}
