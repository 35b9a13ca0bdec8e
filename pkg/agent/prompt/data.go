package prompt

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Link is a titled URL of the environment.
type Link struct {
	Title string
	URL   string
}

// Tool is an MCP tool listed in the prompt.
type Tool struct {
	Name        string
	Description string
}

// MCPServer is an MCP server listed in the prompt.
type MCPServer struct {
	Name        string
	Description string
	Tools       []Tool
}

// Issue is the GitHub issue the agent works on.
type Issue struct {
	Number int
	Title  string
	Body   string
	Author string
	URL    string
	Labels []string
	// BodyOmitted is set when the author is not an allowed user: the body is not shown.
	BodyOmitted bool
}

// PullRequest is the pull request of a review kind.
type PullRequest struct {
	Number int
	Title  string
	Body   string
	Author string
	URL    string
	Head   string
	Base   string
	// BodyOmitted is set when the author is not an allowed user: the body is not shown.
	BodyOmitted bool
}

// Comment is an issue comment or a review comment.
type Comment struct {
	ID        int64
	Author    string
	Body      string
	CreatedAt time.Time
	URL       string
}

// Thread is a review thread (a review comment and its replies on one place of the diff).
type Thread struct {
	// ID is GitHub's node id of the thread (used to resolve it).
	ID       string
	Path     string
	Line     int
	Resolved bool
	Outdated bool
	Comments []Comment
	// Omitted names comments of the thread that were left out.
	Omitted []Omission
}

// Omission says that Count texts by Author were left out of the prompt.
type Omission struct {
	Author string
	Count  int
}

// Data is everything a prompt template can show. Text fields must already be sanitized (see
// Policy); the renderer does not escape anything.
type Data struct {
	Kind Kind
	Mode Mode
	Lang Lang

	Project    string
	Repo       string
	Branch     string
	Env        string
	Namespace  string
	Slot       int
	Host       string
	Links      []Link
	FocusIssue int

	// InfraUnhealthy is set when the environment's infrastructure failed its health checks.
	InfraUnhealthy bool
	// ReviewMCPEnabled makes review kinds use the review MCP server instead of the GitHub CLI.
	ReviewMCPEnabled bool

	ProjectContext   string
	ServicesOverview string
	ExtraTools       []string
	MCPServers       []MCPServer

	Issue    *Issue
	Comments []Comment
	// EarlierComments counts allowed comments left out because only the latest are shown.
	EarlierComments int
	// OmittedComments names comments left out because their authors are not allowed users.
	OmittedComments []Omission

	// Focus is the child issue that was commented on (plan_review), with its comments.
	Focus         *Issue
	FocusComments []Comment
	FocusOmitted  []Omission

	PR *PullRequest
	// Threads are the unresolved review threads.
	Threads []Thread
	// ResolvedThreads counts resolved threads left out.
	ResolvedThreads int
}

// IsReview reports whether the kind works on review feedback (plan_review, dev_review,
// repair_review).
func (d Data) IsReview() bool { return d.Kind.IsReview() }

// Policy decides which GitHub text goes into the prompt and how much of it.
type Policy struct {
	// Allowed reports whether text by login may go into the prompt. nil allows nobody.
	Allowed func(login string) bool
	// Bounds in bytes; zero uses the defaults.
	TitleLimit, BodyLimit, CommentLimit int
	// MaxComments keeps only the latest comments (0 = 50).
	MaxComments int
}

func (p Policy) allowed(login string) bool {
	return p.Allowed != nil && login != "" && p.Allowed(login)
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Issue returns the issue with its title and body sanitized; the body of a user who is not
// allowed is dropped and flagged as omitted.
func (p Policy) Issue(in Issue) Issue {
	out := in
	out.Title = CleanLine(in.Title, orDefault(p.TitleLimit, DefaultTitleLimit), "the title")
	out.Author = CleanLine(in.Author, 100, "the login")
	labels := make([]string, 0, len(in.Labels))
	for _, l := range in.Labels {
		labels = append(labels, CleanLine(l, 100, "the label"))
	}
	out.Labels = labels
	if !p.allowed(in.Author) {
		out.Body, out.BodyOmitted = "", true
		return out
	}
	out.Body = Sanitize(in.Body, orDefault(p.BodyLimit, DefaultBodyLimit), fmt.Sprintf("the body of #%d", in.Number))
	return out
}

// PullRequest is Issue for a pull request.
func (p Policy) PullRequest(in PullRequest) PullRequest {
	out := in
	out.Title = CleanLine(in.Title, orDefault(p.TitleLimit, DefaultTitleLimit), "the title")
	out.Author = CleanLine(in.Author, 100, "the login")
	out.Head = CleanLine(in.Head, 200, "the branch")
	out.Base = CleanLine(in.Base, 200, "the branch")
	if !p.allowed(in.Author) {
		out.Body, out.BodyOmitted = "", true
		return out
	}
	out.Body = Sanitize(in.Body, orDefault(p.BodyLimit, DefaultBodyLimit), fmt.Sprintf("the description of PR #%d", in.Number))
	return out
}

// Comments keeps the comments of allowed users (sanitized, only the latest MaxComments) and names
// the others as omitted. It returns the kept comments, the number of allowed comments dropped as
// too old, and the omissions grouped by author.
func (p Policy) Comments(in []Comment) (kept []Comment, earlier int, omitted []Omission) {
	counts := map[string]int{}
	for _, c := range in {
		if !p.allowed(c.Author) {
			counts[CleanLine(c.Author, 100, "the login")]++
			continue
		}
		c.Author = CleanLine(c.Author, 100, "the login")
		c.Body = Sanitize(c.Body, orDefault(p.CommentLimit, DefaultCommentLimit), "this comment")
		kept = append(kept, c)
	}
	if max := orDefault(p.MaxComments, 50); len(kept) > max {
		earlier = len(kept) - max
		kept = kept[earlier:]
	}
	return kept, earlier, omissions(counts)
}

// Threads keeps the unresolved threads, each with its comments filtered like Comments, and counts
// the resolved ones. A thread whose comments are all omitted is still listed (it is unresolved and
// must be answered), with its omissions named.
func (p Policy) Threads(in []Thread) (open []Thread, resolved int) {
	for _, t := range in {
		if t.Resolved {
			resolved++
			continue
		}
		t.Path = CleanLine(t.Path, 300, "the path")
		var earlier int
		t.Comments, earlier, t.Omitted = p.Comments(t.Comments)
		_ = earlier
		open = append(open, t)
	}
	return open, resolved
}

func omissions(counts map[string]int) []Omission {
	out := make([]Omission, 0, len(counts))
	for a, n := range counts {
		if a == "" {
			a = "(unknown)"
		}
		out = append(out, Omission{Author: a, Count: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Author < out[j].Author })
	return out
}

// LinkFor joins host and path into an https URL.
func LinkFor(host, path string) string {
	if host == "" {
		return path
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return "https://" + host + path
}

// SemanticLabels returns the issue's labels without trigger labels (those that start agent runs:
// names starting with "[ai" or "ai-"), i.e. the labels child issues should carry.
func (i Issue) SemanticLabels() []string {
	var out []string
	for _, l := range i.Labels {
		low := strings.ToLower(l)
		if strings.HasPrefix(low, "[ai") || strings.HasPrefix(low, "ai-") || strings.HasPrefix(low, "ai:") {
			continue
		}
		out = append(out, l)
	}
	return out
}
