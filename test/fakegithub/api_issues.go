package fakegithub

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// apiRoutes lists every REST endpoint of the fake, most specific first.
func (s *Server) apiRoutes() []route {
	const R = "/repos/{owner}/{repo}"
	return []route{
		newRoute("GET /user", s.getAuthUser),
		newRoute("GET /users/{username}", s.getUser),
		newRoute("GET "+R, s.getRepo),
		newRoute("GET "+R+"/collaborators/{username}/permission", s.getPermission),
		newRoute("GET "+R+"/collaborators/{username}", s.checkCollaborator),
		// issues and their comments and labels
		newRoute("GET "+R+"/issues", s.listIssues),
		newRoute("POST "+R+"/issues", s.createIssue),
		newRoute("GET "+R+"/issues/comments/{comment_id}", s.getComment),
		newRoute("PATCH "+R+"/issues/comments/{comment_id}", s.editComment),
		newRoute("DELETE "+R+"/issues/comments/{comment_id}", s.deleteComment),
		newRoute("GET "+R+"/issues/{issue_number}", s.getIssue),
		newRoute("PATCH "+R+"/issues/{issue_number}", s.editIssue),
		newRoute("GET "+R+"/issues/{issue_number}/comments", s.listComments),
		newRoute("POST "+R+"/issues/{issue_number}/comments", s.createComment),
		newRoute("GET "+R+"/issues/{issue_number}/labels", s.listLabels),
		newRoute("POST "+R+"/issues/{issue_number}/labels", s.addLabels),
		newRoute("PUT "+R+"/issues/{issue_number}/labels", s.setLabels),
		newRoute("DELETE "+R+"/issues/{issue_number}/labels", s.clearLabels),
		newRoute("DELETE "+R+"/issues/{issue_number}/labels/{name}", s.removeLabel),
		// pulls
		newRoute("GET "+R+"/pulls", s.listPulls),
		newRoute("POST "+R+"/pulls", s.createPull),
		newRoute("GET "+R+"/pulls/comments/{comment_id}", s.getReviewComment),
		newRoute("GET "+R+"/pulls/{pull_number}", s.getPull),
		newRoute("PATCH "+R+"/pulls/{pull_number}", s.editPull),
		newRoute("GET "+R+"/pulls/{pull_number}/merge", s.checkMerged),
		newRoute("PUT "+R+"/pulls/{pull_number}/merge", s.mergePull),
		newRoute("GET "+R+"/pulls/{pull_number}/requested_reviewers", s.listRequestedReviewers),
		newRoute("POST "+R+"/pulls/{pull_number}/requested_reviewers", s.requestReviewers),
		newRoute("DELETE "+R+"/pulls/{pull_number}/requested_reviewers", s.removeRequestedReviewers),
		newRoute("GET "+R+"/pulls/{pull_number}/reviews", s.listReviews),
		newRoute("POST "+R+"/pulls/{pull_number}/reviews", s.createReview),
		newRoute("GET "+R+"/pulls/{pull_number}/comments", s.listReviewComments),
		newRoute("POST "+R+"/pulls/{pull_number}/comments", s.createReviewComment),
		newRoute("POST "+R+"/pulls/{pull_number}/comments/{comment_id}/replies", s.replyReviewComment),
		// statuses and checks
		newRoute("POST "+R+"/statuses/{sha}", s.createStatus),
		newRoute("GET "+R+"/commits/{ref...}/statuses", s.listStatuses),
		newRoute("GET "+R+"/commits/{ref...}/status", s.combinedStatus),
		newRoute("GET "+R+"/commits/{ref...}/check-runs", s.listCheckRuns),
		newRoute("POST "+R+"/check-runs", s.createCheckRun),
		newRoute("GET "+R+"/check-runs/{check_run_id}", s.getCheckRun),
		newRoute("PATCH "+R+"/check-runs/{check_run_id}", s.updateCheckRun),
		// git data
		newRoute("GET "+R+"/branches", s.listBranches),
		newRoute("GET "+R+"/branches/{branch...}", s.getBranch),
		newRoute("GET "+R+"/git/ref/{ref...}", s.getRef),
		newRoute("GET "+R+"/git/refs/{ref...}", s.getRefLegacy),
		newRoute("GET "+R+"/git/matching-refs/{ref...}", s.matchingRefs),
		newRoute("POST "+R+"/git/refs", s.createRef),
		newRoute("PATCH "+R+"/git/refs/{ref...}", s.updateRef),
		newRoute("DELETE "+R+"/git/refs/{ref...}", s.deleteRef),
	}
}

func (s *Server) getAuthUser(c *reqCtx) { c.json(http.StatusOK, s.userJSON(c.login)) }

func (s *Server) getUser(c *reqCtx) {
	if s.users[c.params["username"]] == nil {
		writeError(c.w, http.StatusNotFound, "Not Found")
		return
	}
	c.json(http.StatusOK, s.userJSON(c.params["username"]))
}

func (s *Server) getRepo(c *reqCtx) { c.json(http.StatusOK, s.repoJSON(c.repo, c.login)) }

func (s *Server) getPermission(c *reqCtx) {
	login := c.params["username"]
	u := s.users[login]
	if u == nil {
		writeError(c.w, http.StatusNotFound, "Not Found")
		return
	}
	role := s.permission(c.repo, u.login)
	perm := map[string]string{"maintain": "write", "triage": "read"}[role]
	if perm == "" {
		perm = role
	}
	c.json(http.StatusOK, obj{"permission": perm, "role_name": role, "user": s.userJSON(u.login)})
}

func (s *Server) checkCollaborator(c *reqCtx) {
	if s.users[c.params["username"]] == nil || !allows(s.permission(c.repo, c.params["username"]), "read") {
		writeError(c.w, http.StatusNotFound, "Not Found")
		return
	}
	c.w.WriteHeader(http.StatusNoContent)
}

// issue resolves {issue_number}, writing 404 when it does not exist.
func (c *reqCtx) issue() *Issue {
	n, ok := c.intParam("issue_number")
	if !ok {
		return nil
	}
	is := c.repo.issues[int(n)]
	if is == nil {
		writeError(c.w, http.StatusNotFound, "Not Found")
	}
	return is
}

func (s *Server) listIssues(c *reqCtx) {
	q := c.r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var want []string
	if l := q.Get("labels"); l != "" {
		want = strings.Split(l, ",")
	}
	var out []obj
	all := sortedIssues(c.repo)
	slices.Reverse(all) // GitHub's default: newest first
	for _, is := range all {
		if state != "all" && is.State != state {
			continue
		}
		if cr := q.Get("creator"); cr != "" && cr != is.User {
			continue
		}
		if !hasAll(is.Labels, want) {
			continue
		}
		out = append(out, s.issueJSON(c.repo, is))
	}
	c.json(http.StatusOK, paginate(c, nonNil(out)))
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, strings.TrimSpace(w)) }) {
			return false
		}
	}
	return true
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) createIssue(c *reqCtx) {
	var req struct {
		Title  string   `json:"title"`
		Body   string   `json:"body"`
		Labels []string `json:"labels"`
	}
	if !c.decode(&req) {
		return
	}
	if req.Title == "" {
		validationError(c.w, "Issue", "title", "missing_field", "")
		return
	}
	is := s.addIssue(c.repo, Issue{Title: req.Title, Body: req.Body, User: c.login, Labels: req.Labels})
	c.json(http.StatusCreated, s.issueJSON(c.repo, is))
}

func (s *Server) getIssue(c *reqCtx) {
	if is := c.issue(); is != nil {
		c.json(http.StatusOK, s.issueJSON(c.repo, is))
	}
}

func (s *Server) editIssue(c *reqCtx) {
	is := c.issue()
	if is == nil {
		return
	}
	if is.User != c.login && !c.require("triage") {
		return
	}
	var req struct {
		Title       *string   `json:"title"`
		Body        *string   `json:"body"`
		State       *string   `json:"state"`
		StateReason *string   `json:"state_reason"`
		Labels      *[]string `json:"labels"`
	}
	if !c.decode(&req) {
		return
	}
	if req.State != nil && *req.State != "open" && *req.State != "closed" {
		validationError(c.w, "Issue", "state", "invalid", "")
		return
	}
	now := s.now()
	if req.Title != nil {
		is.Title = *req.Title
	}
	if req.Body != nil {
		is.Body = *req.Body
	}
	if req.Labels != nil {
		is.Labels = uniq(*req.Labels)
	}
	if req.State != nil && *req.State != is.State {
		is.State = *req.State
		if is.State == "closed" {
			is.ClosedAt = now
			is.StateReason = "completed"
		} else {
			is.ClosedAt = time.Time{}
			is.StateReason = "reopened"
		}
	}
	if req.StateReason != nil {
		is.StateReason = *req.StateReason
	}
	is.UpdatedAt = now
	c.json(http.StatusOK, s.issueJSON(c.repo, is))
}

func uniq(in []string) []string {
	out := []string{}
	for _, l := range in {
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

func (s *Server) listComments(c *reqCtx) {
	is := c.issue()
	if is == nil {
		return
	}
	var since time.Time
	if v := c.r.URL.Query().Get("since"); v != "" {
		since, _ = time.Parse(time.RFC3339, v)
	}
	out := []obj{}
	for _, cm := range c.repo.comments {
		if cm.IssueNumber == is.Number && !cm.UpdatedAt.Before(since) {
			out = append(out, s.commentJSON(c.repo, cm))
		}
	}
	c.json(http.StatusOK, paginate(c, out))
}

func (s *Server) createComment(c *reqCtx) {
	is := c.issue()
	if is == nil {
		return
	}
	var req struct {
		Body string `json:"body"`
	}
	if !c.decode(&req) {
		return
	}
	if strings.TrimSpace(req.Body) == "" {
		validationError(c.w, "IssueComment", "body", "missing_field", "")
		return
	}
	cm := s.addComment(c.repo, is.Number, c.login, req.Body)
	c.w.Header().Set("Location", s.commentJSON(c.repo, cm)["url"].(string))
	c.json(http.StatusCreated, s.commentJSON(c.repo, cm))
}

// comment resolves {comment_id} within the request's repository.
func (c *reqCtx) comment() *Comment {
	id, ok := c.intParam("comment_id")
	if !ok {
		return nil
	}
	for _, cm := range c.repo.comments {
		if cm.ID == id {
			return cm
		}
	}
	writeError(c.w, http.StatusNotFound, "Not Found")
	return nil
}

func (s *Server) getComment(c *reqCtx) {
	if cm := c.comment(); cm != nil {
		c.json(http.StatusOK, s.commentJSON(c.repo, cm))
	}
}

func (s *Server) editComment(c *reqCtx) {
	cm := c.comment()
	if cm == nil {
		return
	}
	if cm.User != c.login && !c.require("write") {
		return
	}
	var req struct {
		Body string `json:"body"`
	}
	if !c.decode(&req) {
		return
	}
	if strings.TrimSpace(req.Body) == "" {
		validationError(c.w, "IssueComment", "body", "missing_field", "")
		return
	}
	cm.Body, cm.UpdatedAt = req.Body, s.now()
	cm.Revisions = append(cm.Revisions, req.Body)
	c.json(http.StatusOK, s.commentJSON(c.repo, cm))
}

func (s *Server) deleteComment(c *reqCtx) {
	cm := c.comment()
	if cm == nil {
		return
	}
	if cm.User != c.login && !c.require("write") {
		return
	}
	c.repo.comments = slices.DeleteFunc(c.repo.comments, func(x *Comment) bool { return x == cm })
	c.w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listLabels(c *reqCtx) {
	if is := c.issue(); is != nil {
		c.json(http.StatusOK, paginate(c, s.labelsJSON(c.repo, is.Labels)))
	}
}

// labelsBody accepts both a JSON array of names and {"labels": [...]}, as GitHub does.
func (c *reqCtx) labelsBody() ([]string, bool) {
	var raw json.RawMessage
	if !c.decode(&raw) {
		return nil, false
	}
	var names []string
	if err := json.Unmarshal(raw, &names); err == nil {
		return names, true
	}
	var wrapped struct {
		Labels []string `json:"labels"`
	}
	if err := json.Unmarshal(raw, &wrapped); err != nil {
		validationError(c.w, "Label", "labels", "invalid", "")
		return nil, false
	}
	return wrapped.Labels, true
}

func (s *Server) addLabels(c *reqCtx) {
	is := c.issue()
	if is == nil || !c.require("triage") {
		return
	}
	names, ok := c.labelsBody()
	if !ok {
		return
	}
	is.Labels = uniq(append(is.Labels, names...))
	is.UpdatedAt = s.now()
	c.json(http.StatusOK, s.labelsJSON(c.repo, is.Labels))
}

func (s *Server) setLabels(c *reqCtx) {
	is := c.issue()
	if is == nil || !c.require("triage") {
		return
	}
	names, ok := c.labelsBody()
	if !ok {
		return
	}
	is.Labels = uniq(names)
	is.UpdatedAt = s.now()
	c.json(http.StatusOK, s.labelsJSON(c.repo, is.Labels))
}

func (s *Server) clearLabels(c *reqCtx) {
	is := c.issue()
	if is == nil || !c.require("triage") {
		return
	}
	is.Labels, is.UpdatedAt = nil, s.now()
	c.w.WriteHeader(http.StatusNoContent)
}

func (s *Server) removeLabel(c *reqCtx) {
	is := c.issue()
	if is == nil || !c.require("triage") {
		return
	}
	name := c.params["name"]
	i := slices.IndexFunc(is.Labels, func(l string) bool { return strings.EqualFold(l, name) })
	if i < 0 {
		writeError(c.w, http.StatusNotFound, "Label does not exist")
		return
	}
	is.Labels = slices.Delete(is.Labels, i, i+1)
	is.UpdatedAt = s.now()
	c.json(http.StatusOK, s.labelsJSON(c.repo, is.Labels))
}
