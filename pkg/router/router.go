// Package router decides, without side effects, what a GitHub webhook event means for
// agentline: which Pipeline to start (or which runs to cancel or retry) with which params, or a
// named reason for ignoring the event. The HTTP endpoint (pkg/webhook) and the Triggers
// ClusterInterceptor share it.
package router

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-github/v66/github"
)

// Pipeline names (also the values of the agentline.dev/kind label).
const (
	PipelineStagingDeploy  = "staging-deploy"
	PipelineAIPlan         = "ai-plan"
	PipelineAIPlanReview   = "ai-plan-review"
	PipelineAIDev          = "ai-dev"
	PipelineAIDevReview    = "ai-dev-review"
	PipelineAIRepair       = "ai-repair"
	PipelineAIRepairReview = "ai-repair-review"
	PipelineCleanup        = "cleanup"
)

// Pipeline param names, the same in every Pipeline. Every Route carries all of them (values not
// applicable to the route are empty strings).
const (
	ParamRepo            = "repo"
	ParamRepoURL         = "repo-url"
	ParamIssue           = "issue"
	ParamPR              = "pr"
	ParamFocusIssue      = "focus-issue"
	ParamSHA             = "sha"
	ParamBase            = "base"
	ParamHead            = "head"
	ParamSender          = "sender"
	ParamLang            = "lang"
	ParamModel           = "model"
	ParamReasoningEffort = "reasoning-effort"
	ParamKey             = "key"
	ParamDelivery        = "delivery"
	ParamGitHubURL       = "github-url"
	ParamAgentImage      = "agent-image"
)

// ParamNames lists every Pipeline param name in a stable order.
var ParamNames = []string{
	ParamRepo, ParamRepoURL, ParamIssue, ParamPR, ParamFocusIssue, ParamSHA, ParamBase, ParamHead,
	ParamSender, ParamLang, ParamModel, ParamReasoningEffort, ParamKey, ParamDelivery,
	ParamGitHubURL, ParamAgentImage,
}

// Action is what the caller does with a Route.
type Action string

const (
	// ActionCreate creates a PipelineRun of Route.Pipeline named Route.RunName.
	ActionCreate Action = "create"
	// ActionCancel cancels the active runs of Route.Key.
	ActionCancel Action = "cancel"
	// ActionCancelThenCleanup cancels the active runs of Route.Key, then creates the `cleanup`
	// PipelineRun named Route.RunName.
	ActionCancelThenCleanup Action = "cancel-then-cleanup"
	// ActionRetry starts the last failed run of Route.Key again; the new run is named
	// RunName(<that run's pipeline>, Route.Delivery).
	ActionRetry Action = "retry"
)

// Reason names why an event is ignored.
type Reason string

// Ignore reasons.
const (
	ReasonPing                      Reason = "ping"
	ReasonUnsupportedEvent          Reason = "unsupported-event"
	ReasonUnsupportedAction         Reason = "unsupported-action"
	ReasonBot                       Reason = "bot-not-allowed"
	ReasonIgnoredUser               Reason = "ignored-user"
	ReasonNotDefaultBranch          Reason = "not-default-branch"
	ReasonBranchDeleted             Reason = "branch-deleted"
	ReasonSkipCI                    Reason = "skip-ci"
	ReasonLabelNotTrigger           Reason = "label-not-trigger"
	ReasonIssueClosed               Reason = "issue-closed"
	ReasonNoTrigger                 Reason = "no-trigger"
	ReasonCommentOnPR               Reason = "comment-on-pr"
	ReasonNoPlanRoot                Reason = "no-plan-root"
	ReasonReviewNotChangesRequested Reason = "review-not-changes-requested"
	ReasonPRClosed                  Reason = "pr-closed"
	ReasonNotAgentBranch            Reason = "not-agent-branch"
	ReasonForkHead                  Reason = "fork-head"
)

// Sender is who caused the event.
type Sender struct {
	Login string `json:"login"`
	// Type is GitHub's account type: "User", "Bot" or "Organization".
	Type string `json:"type,omitempty"`
}

// IsBot reports whether the sender is a bot account.
func (s Sender) IsBot() bool {
	return strings.EqualFold(s.Type, "Bot") || strings.HasSuffix(strings.ToLower(s.Login), "[bot]")
}

// Route is what an event starts or stops. Its JSON form (camelCase fields) is what the
// ClusterInterceptor returns as extensions.
type Route struct {
	Action Action `json:"action"`
	// Pipeline is the Pipeline to run; empty for ActionCancel and ActionRetry.
	Pipeline string `json:"pipeline,omitempty"`
	// Kind is the value of the agentline.dev/kind label: the pipeline name; empty for
	// ActionCancel and ActionRetry.
	Kind string `json:"kind,omitempty"`
	// Repo is `owner/name`, RepoURL its clone URL.
	Repo    string `json:"repo"`
	RepoURL string `json:"repoURL"`
	// Issue and PR are the issue and pull request numbers the run is about (0 when none).
	Issue int `json:"issue,omitempty"`
	PR    int `json:"pr,omitempty"`
	// Key serialises runs: `owner/repo#N` for issues and PRs, `owner/repo@branch` for pushes.
	Key string `json:"key"`
	// RunName is the PipelineRun name (empty for ActionCancel and ActionRetry).
	RunName string `json:"runName,omitempty"`
	// Delivery is the X-GitHub-Delivery id.
	Delivery string `json:"delivery"`
	// Params holds every name in ParamNames.
	Params map[string]string `json:"params"`
}

// Decision is the router's answer for one event: a Route, or a Reason for ignoring it.
type Decision struct {
	// Event is the X-GitHub-Event type, EventAction the payload's action (may be empty).
	Event       string `json:"event"`
	EventAction string `json:"eventAction,omitempty"`
	Delivery    string `json:"delivery"`
	// Repo is `owner/name` (empty when the payload has no repository).
	Repo string `json:"repo,omitempty"`
	// Number is the issue or PR the event happened on (0 for push and ping); rejected senders
	// are told on it.
	Number int    `json:"number,omitempty"`
	Sender Sender `json:"sender"`
	// Route is set when the event is routed, Reason (and Detail) when it is ignored.
	Route  *Route `json:"route,omitempty"`
	Reason Reason `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Ignored reports whether the decision is to do nothing.
func (d Decision) Ignored() bool { return d.Route == nil }

// ErrBadEvent wraps payload errors (malformed JSON, missing required fields).
var ErrBadEvent = errors.New("bad webhook event")

// Decide parses payload with go-github's ParseWebHook and routes it. Event types the router does
// not handle are ignored with ReasonUnsupportedEvent without parsing. An error (wrapping
// ErrBadEvent) means the payload or delivery id is unusable.
func Decide(eventType, delivery string, payload []byte, cfg Config) (Decision, error) {
	if !supported(eventType) {
		return Decision{Event: eventType, Delivery: delivery, Reason: ReasonUnsupportedEvent,
			Detail: fmt.Sprintf("event %q is not routed", eventType)}, nil
	}
	ev, err := github.ParseWebHook(eventType, payload)
	if err != nil {
		return Decision{}, fmt.Errorf("%w: parse %q payload (delivery %s): %v", ErrBadEvent, eventType, delivery, err)
	}
	return DecideEvent(eventType, delivery, ev, cfg)
}

func supported(eventType string) bool {
	switch eventType {
	case "ping", "push", "issues", "issue_comment", "pull_request", "pull_request_review":
		return true
	}
	return false
}

// DecideEvent routes an event already parsed by go-github (a *github.PushEvent,
// *github.IssuesEvent, ...). eventType is the X-GitHub-Event header.
func DecideEvent(eventType, delivery string, event any, cfg Config) (Decision, error) {
	d := Decision{Event: eventType, Delivery: delivery}
	if ping, ok := event.(*github.PingEvent); ok {
		d.Repo = ping.GetRepo().GetFullName()
		d.Sender = sender(ping.GetSender())
		return d.ignore(ReasonPing, "ping: hook %d", ping.GetHookID()), nil
	}
	if strings.TrimSpace(delivery) == "" {
		return Decision{}, fmt.Errorf("%w: %s event without a delivery id", ErrBadEvent, eventType)
	}
	var r eventRouter
	switch ev := event.(type) {
	case *github.PushEvent:
		d.Repo = ev.GetRepo().GetFullName()
		d.Sender = sender(ev.GetSender())
		r = func(d *Decision) error { return routePush(d, ev, cfg) }
	case *github.IssuesEvent:
		d.EventAction = ev.GetAction()
		d.Repo, d.Number = ev.GetRepo().GetFullName(), ev.GetIssue().GetNumber()
		d.Sender = sender(ev.GetSender())
		r = func(d *Decision) error { return routeIssues(d, ev, cfg) }
	case *github.IssueCommentEvent:
		d.EventAction = ev.GetAction()
		d.Repo, d.Number = ev.GetRepo().GetFullName(), ev.GetIssue().GetNumber()
		d.Sender = sender(ev.GetSender())
		r = func(d *Decision) error { return routeIssueComment(d, ev, cfg) }
	case *github.PullRequestEvent:
		d.EventAction = ev.GetAction()
		d.Repo, d.Number = ev.GetRepo().GetFullName(), ev.GetPullRequest().GetNumber()
		d.Sender = sender(ev.GetSender())
		r = func(d *Decision) error { return routePullRequest(d, ev, cfg) }
	case *github.PullRequestReviewEvent:
		d.EventAction = ev.GetAction()
		d.Repo, d.Number = ev.GetRepo().GetFullName(), ev.GetPullRequest().GetNumber()
		d.Sender = sender(ev.GetSender())
		r = func(d *Decision) error { return routeReview(d, ev, cfg) }
	default:
		return d.ignore(ReasonUnsupportedEvent, "event %q (%T) is not routed", eventType, event), nil
	}
	if d.Repo == "" || !strings.Contains(d.Repo, "/") {
		return Decision{}, fmt.Errorf("%w: %s event (delivery %s): repository.full_name missing", ErrBadEvent, eventType, delivery)
	}
	if d.Sender.Login == "" {
		return Decision{}, fmt.Errorf("%w: %s event (delivery %s): sender.login missing", ErrBadEvent, eventType, delivery)
	}
	if d.Sender.IsBot() && !cfg.BotAllowed(d.Sender.Login) {
		return d.ignore(ReasonBot, "sender %s is a bot not in %s", d.Sender.Login, KeyAllowedBots), nil
	}
	if cfg.userIgnored(d.Sender.Login) {
		return d.ignore(ReasonIgnoredUser, "sender %s is in %s", d.Sender.Login, KeyIgnoredUsers), nil
	}
	if err := r(&d); err != nil {
		return Decision{}, err
	}
	return d, nil
}

type eventRouter func(*Decision) error

func sender(u *github.User) Sender {
	return Sender{Login: u.GetLogin(), Type: u.GetType()}
}

func (d Decision) ignore(reason Reason, format string, args ...any) Decision {
	d.Route, d.Reason, d.Detail = nil, reason, fmt.Sprintf(format, args...)
	return d
}

func (d *Decision) skip(reason Reason, format string, args ...any) error {
	*d = d.ignore(reason, format, args...)
	return nil
}

func (d *Decision) badEvent(what string) error {
	return fmt.Errorf("%w: %s.%s event (delivery %s): %s", ErrBadEvent, d.Event, d.EventAction, d.Delivery, what)
}
