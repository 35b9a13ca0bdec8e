package fakegithub

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// pull resolves {pull_number}, writing 404 when it does not exist.
func (c *reqCtx) pull() *pull {
	n, ok := c.intParam("pull_number")
	if !ok {
		return nil
	}
	p := c.repo.pulls[int(n)]
	if p == nil {
		writeError(c.w, http.StatusNotFound, "Not Found")
	}
	return p
}

// headBranch turns "owner:branch" or "branch" into a branch of the request's repository.
func (c *reqCtx) headBranch(head string) (string, bool) {
	if owner, b, ok := strings.Cut(head, ":"); ok {
		return b, strings.EqualFold(owner, c.repo.owner)
	}
	return head, true
}

func (s *Server) listPulls(c *reqCtx) {
	q := c.r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	head, headOK := "", true
	if h := q.Get("head"); h != "" {
		head, headOK = c.headBranch(h)
	}
	numbers := make([]int, 0, len(c.repo.pulls))
	for n := range c.repo.pulls {
		numbers = append(numbers, n)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(numbers)))
	if q.Get("direction") == "asc" {
		slices.Reverse(numbers)
	}
	out := []obj{}
	for _, n := range numbers {
		p, is := c.repo.pulls[n], c.repo.issues[n]
		if !headOK || (state != "all" && is.State != state) || (head != "" && p.head != head) {
			continue
		}
		if b := q.Get("base"); b != "" && p.base != b {
			continue
		}
		out = append(out, s.pullJSON(c.repo, p))
	}
	c.json(http.StatusOK, paginate(c, out))
}

func (s *Server) createPull(c *reqCtx) {
	var req struct {
		Title string `json:"title"`
		Head  string `json:"head"`
		Base  string `json:"base"`
		Body  string `json:"body"`
		Draft bool   `json:"draft"`
	}
	if !c.decode(&req) {
		return
	}
	if req.Title == "" {
		validationError(c.w, "PullRequest", "title", "missing_field", "")
		return
	}
	if req.Base == "" {
		validationError(c.w, "PullRequest", "base", "missing_field", "")
		return
	}
	head, sameOwner := c.headBranch(req.Head)
	if req.Head == "" || !sameOwner {
		validationError(c.w, "PullRequest", "head", "invalid", "")
		return
	}
	headSHA, ok := s.branchSHA(c.repo, head)
	if !ok {
		validationError(c.w, "PullRequest", "head", "invalid", "")
		return
	}
	baseSHA, ok := s.branchSHA(c.repo, req.Base)
	if !ok {
		validationError(c.w, "PullRequest", "base", "invalid", "")
		return
	}
	for n, p := range c.repo.pulls {
		if p.head == head && p.base == req.Base && c.repo.issues[n].State == "open" {
			validationError(c.w, "PullRequest", "", "custom",
				fmt.Sprintf("A pull request already exists for %s:%s.", c.repo.owner, head))
			return
		}
	}
	if _, err := s.runGit(c.repo.gitDir, nil, nil, "merge-base", "--is-ancestor", headSHA, baseSHA); err == nil {
		validationError(c.w, "PullRequest", "", "custom", fmt.Sprintf("No commits between %s and %s", req.Base, head))
		return
	}
	is := s.addIssue(c.repo, Issue{Title: req.Title, Body: req.Body, User: c.login, IsPullRequest: true})
	p := &pull{id: s.newID(), number: is.Number, draft: req.Draft, head: head, base: req.Base, headSHA: headSHA}
	c.repo.pulls[is.Number] = p
	c.json(http.StatusCreated, s.pullJSON(c.repo, p))
}

func (s *Server) getPull(c *reqCtx) {
	if p := c.pull(); p != nil {
		c.json(http.StatusOK, s.pullJSON(c.repo, p))
	}
}

func (s *Server) editPull(c *reqCtx) {
	p := c.pull()
	if p == nil {
		return
	}
	is := c.repo.issues[p.number]
	if is.User != c.login && !c.require("write") {
		return
	}
	var req struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
		State *string `json:"state"`
		Base  *string `json:"base"`
	}
	if !c.decode(&req) {
		return
	}
	if req.State != nil && *req.State != "open" && *req.State != "closed" {
		validationError(c.w, "PullRequest", "state", "invalid", "")
		return
	}
	if req.Base != nil {
		if _, ok := s.branchSHA(c.repo, *req.Base); !ok {
			validationError(c.w, "PullRequest", "base", "invalid", "")
			return
		}
	}
	if req.State != nil && *req.State == "open" && is.State == "closed" {
		if _, ok := s.branchSHA(c.repo, p.head); !ok || p.merged {
			validationError(c.w, "PullRequest", "state", "invalid", "")
			return
		}
	}
	s.pullSnapshot(c.repo, p) // capture the head sha before a close
	now := s.now()
	if req.Title != nil {
		is.Title = *req.Title
	}
	if req.Body != nil {
		is.Body = *req.Body
	}
	if req.Base != nil {
		p.base = *req.Base
	}
	if req.State != nil && *req.State != is.State {
		is.State = *req.State
		if is.State == "closed" {
			is.ClosedAt = now
		} else {
			is.ClosedAt = time.Time{}
		}
	}
	is.UpdatedAt = now
	c.json(http.StatusOK, s.pullJSON(c.repo, p))
}

func (s *Server) checkMerged(c *reqCtx) {
	p := c.pull()
	if p == nil {
		return
	}
	if !p.merged {
		writeError(c.w, http.StatusNotFound, "Not Found")
		return
	}
	c.w.WriteHeader(http.StatusNoContent)
}

func (s *Server) mergePull(c *reqCtx) {
	p := c.pull()
	if p == nil || !c.require("write") {
		return
	}
	var req struct {
		CommitTitle   string `json:"commit_title"`
		CommitMessage string `json:"commit_message"`
		SHA           string `json:"sha"`
		MergeMethod   string `json:"merge_method"`
	}
	if !c.decode(&req) {
		return
	}
	is := c.repo.issues[p.number]
	snap := s.pullSnapshot(c.repo, p)
	switch {
	case is.State != "open":
		writeError(c.w, http.StatusMethodNotAllowed, "Pull Request is not mergeable")
		return
	case p.draft:
		writeError(c.w, http.StatusMethodNotAllowed, "Pull Request is still a draft")
		return
	case req.SHA != "" && req.SHA != snap.HeadSHA:
		writeError(c.w, http.StatusConflict, "Head branch was modified. Review and try the merge again.")
		return
	}
	method := req.MergeMethod
	if method == "" {
		method = "merge"
	}
	title := req.CommitTitle
	if title == "" {
		title = fmt.Sprintf("Merge pull request #%d from %s/%s", p.number, c.repo.owner, p.head)
		if method == "squash" {
			title = fmt.Sprintf("%s (#%d)", is.Title, p.number)
		}
	}
	msg := req.CommitMessage
	if msg == "" && method != "squash" {
		msg = is.Title
	}
	full := title
	if msg != "" {
		full += "\n\n" + msg
	}
	sha, err := s.mergeBranches(c.repo, p.base, p.head, method, full)
	if err != nil {
		status := http.StatusMethodNotAllowed
		if !errors.Is(err, errNotMergeable) {
			status = http.StatusUnprocessableEntity
		}
		writeError(c.w, status, err.Error())
		return
	}
	now := s.now()
	p.merged, p.mergeCommit, p.mergedBy, p.mergedAt = true, sha, c.login, now
	is.State, is.ClosedAt, is.UpdatedAt = "closed", now, now
	c.json(http.StatusOK, obj{"sha": sha, "merged": true, "message": "Pull Request successfully merged"})
}

func (s *Server) listRequestedReviewers(c *reqCtx) {
	p := c.pull()
	if p == nil {
		return
	}
	users := []obj{}
	for _, l := range p.reviewers {
		users = append(users, s.userJSON(l))
	}
	c.json(http.StatusOK, obj{"users": users, "teams": []any{}})
}

type reviewersReq struct {
	Reviewers     []string `json:"reviewers"`
	TeamReviewers []string `json:"team_reviewers"`
}

func (s *Server) requestReviewers(c *reqCtx) {
	p := c.pull()
	if p == nil || !c.require("triage") {
		return
	}
	var req reviewersReq
	if !c.decode(&req) {
		return
	}
	if len(req.TeamReviewers) > 0 {
		validationError(c.w, "PullRequest", "team_reviewers", "invalid", "the fake has no teams")
		return
	}
	author := c.repo.issues[p.number].User
	for _, l := range req.Reviewers {
		if strings.EqualFold(l, author) {
			validationError(c.w, "PullRequest", "", "custom", "Review cannot be requested from pull request author.")
			return
		}
		if s.users[l] == nil || !allows(s.permission(c.repo, l), "read") {
			validationError(c.w, "PullRequest", "", "custom", fmt.Sprintf(
				"Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the %s repository.",
				c.repo.fullName()))
			return
		}
	}
	p.reviewers = uniq(append(p.reviewers, req.Reviewers...))
	c.json(http.StatusCreated, s.pullJSON(c.repo, p))
}

func (s *Server) removeRequestedReviewers(c *reqCtx) {
	p := c.pull()
	if p == nil || !c.require("triage") {
		return
	}
	var req reviewersReq
	if !c.decode(&req) {
		return
	}
	p.reviewers = slices.DeleteFunc(p.reviewers, func(l string) bool { return slices.Contains(req.Reviewers, l) })
	c.json(http.StatusOK, s.pullJSON(c.repo, p))
}

func (s *Server) listReviews(c *reqCtx) {
	p := c.pull()
	if p == nil {
		return
	}
	out := []obj{}
	for _, rv := range c.repo.reviews {
		if rv.PullNumber == p.number {
			out = append(out, s.reviewJSON(c.repo, rv))
		}
	}
	c.json(http.StatusOK, paginate(c, out))
}

func (s *Server) createReview(c *reqCtx) {
	p := c.pull()
	if p == nil {
		return
	}
	var req struct {
		CommitID string `json:"commit_id"`
		Body     string `json:"body"`
		Event    string `json:"event"`
		Comments []struct {
			Path string `json:"path"`
			Body string `json:"body"`
			Line int    `json:"line"`
			Side string `json:"side"`
		} `json:"comments"`
	}
	if !c.decode(&req) {
		return
	}
	state, ok := map[string]string{"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED", "": "PENDING"}[req.Event]
	if !ok {
		validationError(c.w, "PullRequestReview", "event", "invalid", "")
		return
	}
	author := c.repo.issues[p.number].User
	if author == c.login && (state == "APPROVED" || state == "CHANGES_REQUESTED") {
		what := map[string]string{"APPROVED": "approve", "CHANGES_REQUESTED": "request changes on"}[state]
		writeJSON(c.w, http.StatusUnprocessableEntity, obj{
			"message": "Unprocessable Entity", "errors": []string{fmt.Sprintf("Can not %s your own pull request", what)},
			"documentation_url": docsURL,
		})
		return
	}
	if (state == "CHANGES_REQUESTED" || state == "COMMENTED") && req.Body == "" && len(req.Comments) == 0 {
		validationError(c.w, "PullRequestReview", "body", "missing_field", "")
		return
	}
	commit := req.CommitID
	if commit == "" {
		commit = s.pullSnapshot(c.repo, p).HeadSHA
	}
	now := s.now()
	rv := &Review{ID: s.newID(), PullNumber: p.number, User: c.login, State: state, Body: req.Body, CommitID: commit}
	if state != "PENDING" {
		rv.SubmittedAt = now
		p.reviewers = slices.DeleteFunc(p.reviewers, func(l string) bool { return l == c.login })
	}
	c.repo.reviews = append(c.repo.reviews, rv)
	for _, rc := range req.Comments {
		c.repo.reviewComments = append(c.repo.reviewComments, &ReviewComment{
			ID: s.newID(), PullNumber: p.number, ReviewID: rv.ID, User: c.login, Body: rc.Body, Path: rc.Path,
			Line: rc.Line, Side: rc.Side, CommitID: commit, CreatedAt: now, UpdatedAt: now,
		})
	}
	c.json(http.StatusOK, s.reviewJSON(c.repo, rv))
}

func (s *Server) listReviewComments(c *reqCtx) {
	p := c.pull()
	if p == nil {
		return
	}
	out := []obj{}
	for _, rc := range c.repo.reviewComments {
		if rc.PullNumber == p.number {
			out = append(out, s.reviewCommentJSON(c.repo, rc))
		}
	}
	c.json(http.StatusOK, paginate(c, out))
}

func (s *Server) findReviewComment(r *repoState, id int64) *ReviewComment {
	for _, rc := range r.reviewComments {
		if rc.ID == id {
			return rc
		}
	}
	return nil
}

func (s *Server) getReviewComment(c *reqCtx) {
	id, ok := c.intParam("comment_id")
	if !ok {
		return
	}
	rc := s.findReviewComment(c.repo, id)
	if rc == nil {
		writeError(c.w, http.StatusNotFound, "Not Found")
		return
	}
	c.json(http.StatusOK, s.reviewCommentJSON(c.repo, rc))
}

func (s *Server) createReviewComment(c *reqCtx) {
	p := c.pull()
	if p == nil {
		return
	}
	var req struct {
		Body      string `json:"body"`
		CommitID  string `json:"commit_id"`
		Path      string `json:"path"`
		Line      int    `json:"line"`
		Side      string `json:"side"`
		InReplyTo int64  `json:"in_reply_to"`
	}
	if !c.decode(&req) {
		return
	}
	if req.InReplyTo != 0 {
		s.reply(c, p, req.InReplyTo, req.Body)
		return
	}
	if req.Body == "" || req.Path == "" {
		validationError(c.w, "PullRequestReviewComment", "path", "missing_field", "")
		return
	}
	commit := req.CommitID
	if commit == "" {
		commit = s.pullSnapshot(c.repo, p).HeadSHA
	} else if _, ok := s.resolveCommit(c.repo, commit); !ok {
		validationError(c.w, "PullRequestReviewComment", "commit_id", "invalid", "")
		return
	}
	now := s.now()
	rc := &ReviewComment{ID: s.newID(), PullNumber: p.number, User: c.login, Body: req.Body, Path: req.Path,
		Line: req.Line, Side: req.Side, CommitID: commit, CreatedAt: now, UpdatedAt: now}
	c.repo.reviewComments = append(c.repo.reviewComments, rc)
	c.json(http.StatusCreated, s.reviewCommentJSON(c.repo, rc))
}

func (s *Server) replyReviewComment(c *reqCtx) {
	p := c.pull()
	if p == nil {
		return
	}
	id, ok := c.intParam("comment_id")
	if !ok {
		return
	}
	var req struct {
		Body string `json:"body"`
	}
	if !c.decode(&req) {
		return
	}
	s.reply(c, p, id, req.Body)
}

// reply answers review comment id of pull request p; replies thread onto the root comment.
func (s *Server) reply(c *reqCtx, p *pull, id int64, body string) {
	parent := s.findReviewComment(c.repo, id)
	if parent == nil || parent.PullNumber != p.number {
		writeError(c.w, http.StatusNotFound, "Not Found")
		return
	}
	if strings.TrimSpace(body) == "" {
		validationError(c.w, "PullRequestReviewComment", "body", "missing_field", "")
		return
	}
	root := parent.ID
	if parent.InReplyTo != 0 {
		root = parent.InReplyTo
	}
	now := s.now()
	rc := &ReviewComment{ID: s.newID(), PullNumber: p.number, InReplyTo: root, User: c.login, Body: body,
		Path: parent.Path, Line: parent.Line, Side: parent.Side, CommitID: parent.CommitID, CreatedAt: now, UpdatedAt: now}
	c.repo.reviewComments = append(c.repo.reviewComments, rc)
	c.json(http.StatusCreated, s.reviewCommentJSON(c.repo, rc))
}
