package fakegithub

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// RepoOptions configures CreateRepo.
type RepoOptions struct {
	// DefaultBranch defaults to "main".
	DefaultBranch string
	Private       bool
	// SeedDir is a directory whose files become the initial commit (its .git, if any, is skipped).
	SeedDir string
	// Files (path -> content) are added to the initial commit, after SeedDir.
	Files map[string]string
	// Empty creates a bare repository without any commit (clone gives an empty repository).
	Empty bool
}

// RepoInfo describes a repository of the fake.
type RepoInfo struct {
	FullName      string // owner/name
	Owner, Name   string
	DefaultBranch string
	CloneURL      string // <URL>/<owner>/<name>.git
	HTMLURL       string // <URL>/<owner>/<name>
	GitDir        string // path of the bare repository on disk
}

// Issue is an issue (or the issue side of a pull request) as stored by the fake.
type Issue struct {
	ID            int64
	Number        int
	Title, Body   string
	User          string // author login
	Labels        []string
	State         string // "open" or "closed"
	StateReason   string
	IsPullRequest bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
	ClosedAt      time.Time // zero when open
}

// Comment is an issue (or pull request conversation) comment.
type Comment struct {
	ID          int64
	IssueNumber int
	User        string
	Body        string
	// Revisions are all bodies the comment has had, oldest first; the last one is Body.
	Revisions []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PullRequest is a pull request as stored by the fake. Title, Body, State, User and Labels are
// those of its issue.
type PullRequest struct {
	ID                 int64
	Number             int
	Title, Body        string
	User               string
	State              string // "open" or "closed"
	Draft              bool
	Head, Base         string // branch names
	HeadSHA            string // current tip of Head while open, the merged/closed tip afterwards
	Merged             bool
	MergeCommitSHA     string
	MergedBy           string
	RequestedReviewers []string
	Labels             []string
	CreatedAt          time.Time
	UpdatedAt          time.Time
	ClosedAt           time.Time
	MergedAt           time.Time
}

// Review is a pull request review.
type Review struct {
	ID          int64
	PullNumber  int
	User        string
	State       string // APPROVED, CHANGES_REQUESTED, COMMENTED, PENDING, DISMISSED
	Body        string
	CommitID    string
	SubmittedAt time.Time
}

// ReviewComment is a pull request review (diff) comment.
type ReviewComment struct {
	ID         int64
	PullNumber int
	ReviewID   int64
	InReplyTo  int64
	User       string
	Body       string
	Path       string
	Line       int
	Side       string
	CommitID   string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Status is a commit status.
type Status struct {
	ID          int64
	SHA         string
	State       string // error, failure, pending, success
	Context     string
	Description string
	TargetURL   string
	Creator     string
	CreatedAt   time.Time
}

// CheckRun is a check run.
type CheckRun struct {
	ID          int64
	HeadSHA     string
	Name        string
	Status      string // queued, in_progress, completed
	Conclusion  string
	DetailsURL  string
	ExternalID  string
	Title       string
	Summary     string
	Text        string
	StartedAt   time.Time
	CompletedAt time.Time
}

type pull struct {
	id          int64
	number      int
	draft       bool
	head, base  string
	headSHA     string
	merged      bool
	mergeCommit string
	mergedBy    string
	mergedAt    time.Time
	reviewers   []string
}

type repoState struct {
	id             int64
	owner, name    string
	private        bool
	defaultBranch  string
	gitDir         string
	createdAt      time.Time
	perms          map[string]string
	issues         map[int]*Issue
	pulls          map[int]*pull
	comments       []*Comment
	reviews        []*Review
	reviewComments []*ReviewComment
	statuses       []*Status
	checkRuns      []*CheckRun
	resolved       map[int64]bool // review thread (first comment id) -> resolved
	nextNumber     int
}

func (r *repoState) fullName() string { return r.owner + "/" + r.name }

// mustRepo returns the repository or fails the test. Callers hold s.mu.
func (s *Server) mustRepo(fullName string) *repoState {
	r := s.repos[strings.ToLower(fullName)]
	if r == nil {
		s.t.Fatalf("fakegithub: no repository %q (CreateRepo first)", fullName)
	}
	return r
}

func (s *Server) info(r *repoState) RepoInfo {
	return RepoInfo{
		FullName: r.fullName(), Owner: r.owner, Name: r.name, DefaultBranch: r.defaultBranch,
		CloneURL: s.URL + "/" + r.fullName() + ".git", HTMLURL: s.URL + "/" + r.fullName(), GitDir: r.gitDir,
	}
}

// Repo returns the description of an existing repository.
func (s *Server) Repo(fullName string) RepoInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info(s.mustRepo(fullName))
}

// CloneURL returns the git smart HTTP URL of repo.
func (s *Server) CloneURL(repo string) string { return s.Repo(repo).CloneURL }

// AddIssue stores an issue. Zero fields get defaults: the next free number, state "open", the
// repository owner as author, the current time.
func (s *Server) AddIssue(repo string, issue Issue) Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repo)
	return *s.addIssue(r, issue)
}

func (s *Server) addIssue(r *repoState, issue Issue) *Issue {
	if issue.Number == 0 {
		issue.Number = r.nextNumber
	}
	if _, dup := r.issues[issue.Number]; dup {
		s.t.Fatalf("fakegithub: %s#%d already exists", r.fullName(), issue.Number)
	}
	if issue.Number >= r.nextNumber {
		r.nextNumber = issue.Number + 1
	}
	if issue.State == "" {
		issue.State = "open"
	}
	if issue.User == "" {
		issue.User = r.owner
	}
	s.ensureUser(issue.User)
	if issue.CreatedAt.IsZero() {
		issue.CreatedAt = s.now()
	}
	if issue.UpdatedAt.IsZero() {
		issue.UpdatedAt = issue.CreatedAt
	}
	if issue.State == "closed" && issue.ClosedAt.IsZero() {
		issue.ClosedAt = issue.UpdatedAt
	}
	issue.ID = s.newID()
	issue.Labels = slices.Clone(issue.Labels)
	p := &issue
	r.issues[issue.Number] = p
	return p
}

// Issue returns a copy of issue (or pull request) number of repo.
func (s *Server) Issue(repo string, number int) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.mustRepo(repo).issues[number]
	if is == nil {
		return Issue{}, false
	}
	c := *is
	c.Labels = slices.Clone(is.Labels)
	return c, true
}

// Issues returns copies of all issues and pull requests of repo, by number.
func (s *Server) Issues(repo string) []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Issue
	for _, is := range sortedIssues(s.mustRepo(repo)) {
		c := *is
		c.Labels = slices.Clone(is.Labels)
		out = append(out, c)
	}
	return out
}

func sortedIssues(r *repoState) []*Issue {
	out := make([]*Issue, 0, len(r.issues))
	for _, is := range r.issues {
		out = append(out, is)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

// AddComment stores a comment by login on issue or pull request number.
func (s *Server) AddComment(repo string, number int, login, body string) Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repo)
	if r.issues[number] == nil {
		s.t.Fatalf("fakegithub: AddComment: no issue %s#%d", repo, number)
	}
	return *s.addComment(r, number, login, body)
}

func (s *Server) addComment(r *repoState, number int, login, body string) *Comment {
	s.ensureUser(login)
	now := s.now()
	c := &Comment{ID: s.newID(), IssueNumber: number, User: login, Body: body, CreatedAt: now, UpdatedAt: now,
		Revisions: []string{body}}
	r.comments = append(r.comments, c)
	r.issues[number].UpdatedAt = now
	return c
}

// Comments returns copies of the comments on issue or pull request number, oldest first.
func (s *Server) Comments(repo string, number int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.mustRepo(repo).comments {
		if c.IssueNumber == number {
			cp := *c
			cp.Revisions = slices.Clone(c.Revisions)
			out = append(out, cp)
		}
	}
	return out
}

// AddPullRequest stores an open pull request from branch pr.Head into pr.Base (default: the
// default branch); Head must exist in the git repository. Number, User and times get defaults.
func (s *Server) AddPullRequest(repo string, pr PullRequest) PullRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repo)
	if pr.Base == "" {
		pr.Base = r.defaultBranch
	}
	sha, ok := s.branchSHA(r, pr.Head)
	if !ok {
		s.t.Fatalf("fakegithub: AddPullRequest: branch %q does not exist in %s", pr.Head, repo)
	}
	is := s.addIssue(r, Issue{Number: pr.Number, Title: pr.Title, Body: pr.Body, User: pr.User,
		Labels: pr.Labels, State: "open", IsPullRequest: true, CreatedAt: pr.CreatedAt})
	p := &pull{id: s.newID(), number: is.Number, draft: pr.Draft, head: pr.Head, base: pr.Base, headSHA: sha,
		reviewers: slices.Clone(pr.RequestedReviewers)}
	r.pulls[is.Number] = p
	return s.pullSnapshot(r, p)
}

// PullRequest returns a copy of pull request number of repo.
func (s *Server) PullRequest(repo string, number int) (PullRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repo)
	p := r.pulls[number]
	if p == nil {
		return PullRequest{}, false
	}
	return s.pullSnapshot(r, p), true
}

// SetReadyForReview marks a draft pull request ready for review, as a person does in the web
// interface (the REST API cannot); it reports whether the pull request exists.
func (s *Server) SetReadyForReview(repo string, number int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustRepo(repo).pulls[number]
	if p == nil {
		return false
	}
	p.draft = false
	return true
}

// PullRequests returns copies of all pull requests of repo, by number.
func (s *Server) PullRequests(repo string) []PullRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repo)
	var out []PullRequest
	for _, is := range sortedIssues(r) {
		if p := r.pulls[is.Number]; p != nil {
			out = append(out, s.pullSnapshot(r, p))
		}
	}
	return out
}

// pullSnapshot refreshes the head sha of an open pull request from git and copies it.
func (s *Server) pullSnapshot(r *repoState, p *pull) PullRequest {
	is := r.issues[p.number]
	if is.State == "open" {
		if sha, ok := s.branchSHA(r, p.head); ok {
			p.headSHA = sha
		}
	}
	return PullRequest{
		ID: p.id, Number: p.number, Title: is.Title, Body: is.Body, User: is.User, State: is.State,
		Draft: p.draft, Head: p.head, Base: p.base, HeadSHA: p.headSHA, Merged: p.merged,
		MergeCommitSHA: p.mergeCommit, MergedBy: p.mergedBy, RequestedReviewers: slices.Clone(p.reviewers),
		Labels: slices.Clone(is.Labels), CreatedAt: is.CreatedAt, UpdatedAt: is.UpdatedAt,
		ClosedAt: is.ClosedAt, MergedAt: p.mergedAt,
	}
}

// AddReview stores a submitted review by login (state APPROVED, CHANGES_REQUESTED or COMMENTED)
// on pull request number, for its current head.
func (s *Server) AddReview(repo string, number int, login, state, body string) Review {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repo)
	p := r.pulls[number]
	if p == nil {
		s.t.Fatalf("fakegithub: AddReview: no pull request %s#%d", repo, number)
	}
	s.ensureUser(login)
	snap := s.pullSnapshot(r, p)
	rv := &Review{ID: s.newID(), PullNumber: number, User: login, State: state, Body: body,
		CommitID: snap.HeadSHA, SubmittedAt: s.now()}
	r.reviews = append(r.reviews, rv)
	return *rv
}

// Reviews returns copies of the reviews of pull request number.
func (s *Server) Reviews(repo string, number int) []Review {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Review
	for _, rv := range s.mustRepo(repo).reviews {
		if rv.PullNumber == number {
			out = append(out, *rv)
		}
	}
	return out
}

// AddReviewComment stores a review comment on pull request number (PullNumber is set from
// number; ID, times and CommitID get defaults).
func (s *Server) AddReviewComment(repo string, number int, rc ReviewComment) ReviewComment {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repo)
	p := r.pulls[number]
	if p == nil {
		s.t.Fatalf("fakegithub: AddReviewComment: no pull request %s#%d", repo, number)
	}
	if rc.CommitID == "" {
		rc.CommitID = s.pullSnapshot(r, p).HeadSHA
	}
	if rc.User == "" {
		rc.User = r.owner
	}
	s.ensureUser(rc.User)
	rc.ID, rc.PullNumber = s.newID(), number
	if rc.CreatedAt.IsZero() {
		rc.CreatedAt = s.now()
	}
	rc.UpdatedAt = rc.CreatedAt
	c := rc
	r.reviewComments = append(r.reviewComments, &c)
	return c
}

// ReviewComments returns copies of the review comments of pull request number, oldest first.
func (s *Server) ReviewComments(repo string, number int) []ReviewComment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ReviewComment
	for _, rc := range s.mustRepo(repo).reviewComments {
		if rc.PullNumber == number {
			out = append(out, *rc)
		}
	}
	return out
}

// Statuses returns the commit statuses created for sha (full hex), oldest first.
func (s *Server) Statuses(repo, sha string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Status
	for _, st := range s.mustRepo(repo).statuses {
		if st.SHA == sha {
			out = append(out, *st)
		}
	}
	return out
}

// CheckRuns returns all check runs of repo, oldest first.
func (s *Server) CheckRuns(repo string) []CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CheckRun
	for _, cr := range s.mustRepo(repo).checkRuns {
		out = append(out, *cr)
	}
	return out
}
