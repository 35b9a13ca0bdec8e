package router

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-github/v66/github"
)

// skipCIMarkers in a pushed head commit's message (any case) suppress staging-deploy.
var skipCIMarkers = []string{"[skip ci]", "[skip-ci]", "[no ci]", "[no-ci]"}

// planParentRE finds the root planning issue named in a child issue's body.
var planParentRE = regexp.MustCompile(`(?i)AI-PLAN-PARENT:\s*#(\d+)`)

// Comment commands (the first word of the comment's first line, any case).
const (
	CommandCancel = "/cancel"
	CommandRetry  = "/retry"
)

func newRoute(d *Decision, cfg Config, action Action, pipeline, repoURL, key string, issue, pr int) *Route {
	r := &Route{
		Action: action, Pipeline: pipeline, Kind: pipeline,
		Repo: d.Repo, RepoURL: repoURL, Issue: issue, PR: pr, Key: key, Delivery: d.Delivery,
		Params: make(map[string]string, len(ParamNames)),
	}
	if pipeline != "" {
		r.RunName = RunName(pipeline, d.Delivery)
	}
	for _, n := range ParamNames {
		r.Params[n] = ""
	}
	r.Params[ParamRepo] = d.Repo
	r.Params[ParamRepoURL] = repoURL
	r.Params[ParamIssue] = itoa(issue)
	r.Params[ParamPR] = itoa(pr)
	r.Params[ParamSender] = d.Sender.Login
	r.Params[ParamLang] = cfg.Language
	r.Params[ParamModel] = cfg.Model
	r.Params[ParamReasoningEffort] = cfg.ReasoningEffort
	r.Params[ParamKey] = key
	r.Params[ParamDelivery] = d.Delivery
	r.Params[ParamGitHubURL] = cfg.GitHubURL
	r.Params[ParamAgentImage] = cfg.AgentImage
	d.Route = r
	return r
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func routePush(d *Decision, ev *github.PushEvent, cfg Config) error {
	repo := ev.GetRepo()
	def := repo.GetDefaultBranch()
	if def == "" {
		def = repo.GetMasterBranch()
	}
	ref := ev.GetRef()
	if def == "" || ref != "refs/heads/"+def {
		return d.skip(ReasonNotDefaultBranch, "push to %s, default branch is %q", ref, def)
	}
	if ev.GetDeleted() {
		return d.skip(ReasonBranchDeleted, "push deleted %s", ref)
	}
	msg := strings.ToLower(ev.GetHeadCommit().GetMessage())
	for _, m := range skipCIMarkers {
		if strings.Contains(msg, m) {
			return d.skip(ReasonSkipCI, "head commit message contains %s", m)
		}
	}
	r := newRoute(d, cfg, ActionCreate, PipelineStagingDeploy, repo.GetCloneURL(), BranchKey(d.Repo, def), 0, 0)
	r.Params[ParamSHA] = ev.GetAfter()
	r.Params[ParamBase] = def
	return nil
}

func hasLabel(labels []*github.Label, name string) bool {
	for _, l := range labels {
		if strings.EqualFold(l.GetName(), name) {
			return true
		}
	}
	return false
}

func routeIssues(d *Decision, ev *github.IssuesEvent, cfg Config) error {
	issue := ev.GetIssue()
	n := issue.GetNumber()
	if n <= 0 {
		return d.badEvent("issue.number missing")
	}
	repoURL := ev.GetRepo().GetCloneURL()
	key := IssueKey(d.Repo, n)
	switch ev.GetAction() {
	case "labeled":
		label := ev.GetLabel().GetName()
		var pipeline, head string
		switch {
		case strings.EqualFold(label, cfg.PlanLabel):
			pipeline = PipelineAIPlan
		case strings.EqualFold(label, cfg.DevLabel):
			pipeline, head = PipelineAIDev, cfg.AgentBranchPrefix+"issue-"+strconv.Itoa(n)
		case strings.EqualFold(label, cfg.RepairLabel):
			pipeline, head = PipelineAIRepair, cfg.AgentBranchPrefix+"ai-repair-"+strconv.Itoa(n)
		default:
			return d.skip(ReasonLabelNotTrigger, "label %q is not a trigger label", label)
		}
		if issue.GetState() == "closed" {
			return d.skip(ReasonIssueClosed, "issue #%d is closed", n)
		}
		r := newRoute(d, cfg, ActionCreate, pipeline, repoURL, key, n, 0)
		r.Params[ParamBase] = ev.GetRepo().GetDefaultBranch()
		r.Params[ParamHead] = head
	case "closed":
		if !hasLabel(issue.Labels, cfg.PlanLabel) && !hasLabel(issue.Labels, cfg.DevLabel) && !hasLabel(issue.Labels, cfg.RepairLabel) {
			return d.skip(ReasonNoTrigger, "closed issue #%d carries no trigger label", n)
		}
		r := newRoute(d, cfg, ActionCancelThenCleanup, PipelineCleanup, repoURL, key, n, 0)
		r.Params[ParamBase] = ev.GetRepo().GetDefaultBranch()
	default:
		return d.skip(ReasonUnsupportedAction, "issues.%s is not routed", ev.GetAction())
	}
	return nil
}

// command returns the comment command (CommandCancel, CommandRetry) or "".
func command(body string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(body), "\n")
	f := strings.Fields(line)
	if len(f) == 0 {
		return ""
	}
	switch c := strings.ToLower(f[0]); c {
	case CommandCancel, CommandRetry:
		return c
	}
	return ""
}

func routeIssueComment(d *Decision, ev *github.IssueCommentEvent, cfg Config) error {
	if ev.GetAction() != "created" {
		return d.skip(ReasonUnsupportedAction, "issue_comment.%s is not routed", ev.GetAction())
	}
	issue := ev.GetIssue()
	n := issue.GetNumber()
	if n <= 0 {
		return d.badEvent("issue.number missing")
	}
	isPR := issue.IsPullRequest()
	repoURL := ev.GetRepo().GetCloneURL()
	body := ev.GetComment().GetBody()
	if c := command(body); c != "" {
		action := ActionCancel
		if c == CommandRetry {
			action = ActionRetry
		}
		iss, pr := n, 0
		if isPR {
			iss, pr = 0, n
		}
		newRoute(d, cfg, action, "", repoURL, IssueKey(d.Repo, n), iss, pr)
		return nil
	}
	if !strings.Contains(strings.ToLower(body), strings.ToLower(cfg.PlanLabel)) {
		return d.skip(ReasonNoTrigger, "comment does not mention %s or a command", cfg.PlanLabel)
	}
	if isPR {
		return d.skip(ReasonCommentOnPR, "%s comment on pull request #%d", cfg.PlanLabel, n)
	}
	root := 0
	if hasLabel(issue.Labels, cfg.PlanLabel) {
		root = n
	} else if m := planParentRE.FindStringSubmatch(issue.GetBody()); m != nil {
		if p, err := strconv.Atoi(m[1]); err == nil && p > 0 {
			root = p
		}
	}
	if root == 0 {
		return d.skip(ReasonNoPlanRoot, "issue #%d has no %s label and no AI-PLAN-PARENT: #N line", n, cfg.PlanLabel)
	}
	r := newRoute(d, cfg, ActionCreate, PipelineAIPlanReview, repoURL, IssueKey(d.Repo, root), root, 0)
	r.Params[ParamFocusIssue] = strconv.Itoa(n)
	r.Params[ParamBase] = ev.GetRepo().GetDefaultBranch()
	return nil
}

// agentBranchIssue returns the issue number encoded in an agent branch name
// (`<prefix>issue-N`, `<prefix>ai-repair-N`), or 0.
func agentBranchIssue(prefix, head string) int {
	rest, ok := strings.CutPrefix(head, prefix)
	if !ok {
		return 0
	}
	for _, p := range []string{"issue-", "ai-repair-"} {
		if s, ok := strings.CutPrefix(rest, p); ok {
			if n, err := strconv.Atoi(s); err == nil && n > 0 {
				return n
			}
		}
	}
	return 0
}

// prHead checks a PR's head branch: it must live in the same repository and (unless configured
// otherwise) be an agent branch. It returns false after recording the ignore reason.
func prHead(d *Decision, pr *github.PullRequest, cfg Config) bool {
	head := pr.GetHead()
	if !strings.EqualFold(head.GetRepo().GetFullName(), d.Repo) {
		_ = d.skip(ReasonForkHead, "head %s of #%d is in another repository (%q)", head.GetRef(), d.Number, head.GetRepo().GetFullName())
		return false
	}
	if !strings.HasPrefix(head.GetRef(), cfg.AgentBranchPrefix) && !cfg.AllowNonAgentReviewHeads {
		_ = d.skip(ReasonNotAgentBranch, "head %s of #%d does not start with %s (%s is off)", head.GetRef(), d.Number, cfg.AgentBranchPrefix, KeyAllowNonAgentReviewHeads)
		return false
	}
	return true
}

func prRoute(d *Decision, ev prEvent, cfg Config, action Action, pipeline string) {
	pr := ev.GetPullRequest()
	r := newRoute(d, cfg, action, pipeline, ev.GetRepo().GetCloneURL(), IssueKey(d.Repo, pr.GetNumber()),
		agentBranchIssue(cfg.AgentBranchPrefix, pr.GetHead().GetRef()), pr.GetNumber())
	r.Params[ParamSHA] = pr.GetHead().GetSHA()
	r.Params[ParamBase] = pr.GetBase().GetRef()
	r.Params[ParamHead] = pr.GetHead().GetRef()
}

type prEvent interface {
	GetPullRequest() *github.PullRequest
	GetRepo() *github.Repository
}

func routePullRequest(d *Decision, ev *github.PullRequestEvent, cfg Config) error {
	if d.Number <= 0 {
		return d.badEvent("pull_request.number missing")
	}
	if ev.GetAction() != "closed" {
		return d.skip(ReasonUnsupportedAction, "pull_request.%s is not routed", ev.GetAction())
	}
	if !prHead(d, ev.GetPullRequest(), cfg) {
		return nil
	}
	prRoute(d, ev, cfg, ActionCancelThenCleanup, PipelineCleanup)
	return nil
}

func routeReview(d *Decision, ev *github.PullRequestReviewEvent, cfg Config) error {
	if d.Number <= 0 {
		return d.badEvent("pull_request.number missing")
	}
	if ev.GetAction() != "submitted" {
		return d.skip(ReasonUnsupportedAction, "pull_request_review.%s is not routed", ev.GetAction())
	}
	if s := ev.GetReview().GetState(); !strings.EqualFold(s, "changes_requested") {
		return d.skip(ReasonReviewNotChangesRequested, "review state is %q", s)
	}
	pr := ev.GetPullRequest()
	if pr.GetState() == "closed" {
		return d.skip(ReasonPRClosed, "pull request #%d is closed", d.Number)
	}
	if !prHead(d, pr, cfg) {
		return nil
	}
	pipeline := PipelineAIDevReview
	if strings.HasPrefix(pr.GetHead().GetRef(), cfg.AgentBranchPrefix+"ai-repair-") {
		pipeline = PipelineAIRepairReview
	}
	prRoute(d, ev, cfg, ActionCreate, pipeline)
	return nil
}
