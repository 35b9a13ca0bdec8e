package fakegithub

import (
	"fmt"
	"net/url"
	"time"
)

// The functions below render state in GitHub's JSON shapes (the fields go-github and agentline
// read, with GitHub's names). Callers hold s.mu.

type obj = map[string]any

func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func (s *Server) apiBase() string { return s.URL + "/api/v3" }

func (s *Server) userJSON(login string) obj {
	u := s.ensureUser(login)
	return obj{
		"login": u.login, "id": u.id, "node_id": fmt.Sprintf("U_%d", u.id), "type": u.typ,
		"site_admin": false, "html_url": s.URL + "/" + url.PathEscape(u.login),
		"url":        s.apiBase() + "/users/" + url.PathEscape(u.login),
		"avatar_url": s.URL + "/avatars/" + url.PathEscape(u.login),
	}
}

func (s *Server) repoJSON(r *repoState, login string) obj {
	role := s.permission(r, login)
	vis := "public"
	if r.private {
		vis = "private"
	}
	html := s.URL + "/" + r.fullName()
	return obj{
		"id": r.id, "node_id": fmt.Sprintf("R_%d", r.id), "name": r.name, "full_name": r.fullName(),
		"owner": s.userJSON(r.owner), "private": r.private, "visibility": vis, "fork": false,
		"html_url": html, "url": s.apiBase() + "/repos/" + r.fullName(),
		"clone_url": html + ".git", "git_url": html + ".git", "ssh_url": html + ".git",
		"default_branch": r.defaultBranch, "archived": false, "disabled": false,
		"created_at": ts(r.createdAt), "updated_at": ts(r.createdAt), "pushed_at": ts(r.createdAt),
		"permissions": obj{
			"admin": allows(role, "admin"), "maintain": allows(role, "maintain"), "push": allows(role, "write"),
			"triage": allows(role, "triage"), "pull": allows(role, "read") || !r.private,
		},
	}
}

func (s *Server) labelsJSON(r *repoState, names []string) []obj {
	out := make([]obj, 0, len(names))
	for _, n := range names {
		out = append(out, obj{
			"id": labelID(n), "node_id": fmt.Sprintf("LA_%d", labelID(n)), "name": n, "color": "ededed",
			"default": false, "description": nil,
			"url": s.apiBase() + "/repos/" + r.fullName() + "/labels/" + url.PathEscape(n),
		})
	}
	return out
}

// labelID derives a stable id from a label name (FNV-1a).
func labelID(name string) int64 {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h ^= uint32(name[i])
		h *= 16777619
	}
	return int64(h)
}

func (s *Server) issueJSON(r *repoState, is *Issue) obj {
	api := s.apiBase() + "/repos/" + r.fullName()
	kind := "issues"
	if is.IsPullRequest {
		kind = "pull"
	}
	n := 0
	for _, c := range r.comments {
		if c.IssueNumber == is.Number {
			n++
		}
	}
	o := obj{
		"id": is.ID, "node_id": fmt.Sprintf("I_%d", is.ID), "number": is.Number, "title": is.Title,
		"body": is.Body, "user": s.userJSON(is.User), "labels": s.labelsJSON(r, is.Labels),
		"state": is.State, "state_reason": nilIfEmpty(is.StateReason), "locked": false, "comments": n,
		"assignees": []any{}, "author_association": s.association(r, is.User),
		"created_at": ts(is.CreatedAt), "updated_at": ts(is.UpdatedAt), "closed_at": ts(is.ClosedAt),
		"url": fmt.Sprintf("%s/issues/%d", api, is.Number), "repository_url": api,
		"comments_url": fmt.Sprintf("%s/issues/%d/comments", api, is.Number),
		"html_url":     fmt.Sprintf("%s/%s/%s/%d", s.URL, r.fullName(), kind, is.Number),
	}
	if is.IsPullRequest {
		o["pull_request"] = obj{
			"url":      fmt.Sprintf("%s/pulls/%d", api, is.Number),
			"html_url": fmt.Sprintf("%s/%s/pull/%d", s.URL, r.fullName(), is.Number),
		}
		if p := r.pulls[is.Number]; p != nil {
			o["draft"] = p.draft
		}
	}
	return o
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// association is GitHub's author_association for login on r.
func (s *Server) association(r *repoState, login string) string {
	switch {
	case login == r.owner:
		return "OWNER"
	case allows(s.permission(r, login), "read"):
		return "COLLABORATOR"
	}
	return "NONE"
}

func (s *Server) commentJSON(r *repoState, c *Comment) obj {
	api := s.apiBase() + "/repos/" + r.fullName()
	kind := "issues"
	if is := r.issues[c.IssueNumber]; is != nil && is.IsPullRequest {
		kind = "pull"
	}
	return obj{
		"id": c.ID, "node_id": fmt.Sprintf("IC_%d", c.ID), "body": c.Body, "user": s.userJSON(c.User),
		"author_association": s.association(r, c.User),
		"created_at":         ts(c.CreatedAt), "updated_at": ts(c.UpdatedAt),
		"url":       fmt.Sprintf("%s/issues/comments/%d", api, c.ID),
		"issue_url": fmt.Sprintf("%s/issues/%d", api, c.IssueNumber),
		"html_url":  fmt.Sprintf("%s/%s/%s/%d#issuecomment-%d", s.URL, r.fullName(), kind, c.IssueNumber, c.ID),
	}
}

func (s *Server) branchJSON(r *repoState, branch, sha string) obj {
	owner := r.owner
	return obj{
		"label": owner + ":" + branch, "ref": branch, "sha": sha,
		"user": s.userJSON(owner), "repo": s.repoJSON(r, ""),
	}
}

func (s *Server) pullJSON(r *repoState, p *pull) obj {
	snap := s.pullSnapshot(r, p)
	api := s.apiBase() + "/repos/" + r.fullName()
	baseSHA, _ := s.branchSHA(r, p.base)
	reviewers := make([]obj, 0, len(p.reviewers))
	for _, l := range p.reviewers {
		reviewers = append(reviewers, s.userJSON(l))
	}
	var mergedBy any
	if p.mergedBy != "" {
		mergedBy = s.userJSON(p.mergedBy)
	}
	mergeable := snap.State == "open"
	return obj{
		"id": p.id, "node_id": fmt.Sprintf("PR_%d", p.id), "number": p.number, "state": snap.State,
		"title": snap.Title, "body": snap.Body, "user": s.userJSON(snap.User), "draft": p.draft,
		"labels": s.labelsJSON(r, snap.Labels), "locked": false,
		"head": s.branchJSON(r, p.head, snap.HeadSHA), "base": s.branchJSON(r, p.base, baseSHA),
		"merged": p.merged, "mergeable": mergeable, "mergeable_state": map[bool]string{true: "clean", false: "unknown"}[mergeable],
		"merged_by": mergedBy, "merge_commit_sha": nilIfEmpty(p.mergeCommit),
		"requested_reviewers": reviewers, "requested_teams": []any{},
		"author_association": s.association(r, snap.User),
		"created_at":         ts(snap.CreatedAt), "updated_at": ts(snap.UpdatedAt),
		"closed_at": ts(snap.ClosedAt), "merged_at": ts(p.mergedAt),
		"url":       fmt.Sprintf("%s/pulls/%d", api, p.number),
		"html_url":  fmt.Sprintf("%s/%s/pull/%d", s.URL, r.fullName(), p.number),
		"issue_url": fmt.Sprintf("%s/issues/%d", api, p.number),
		"diff_url":  fmt.Sprintf("%s/%s/pull/%d.diff", s.URL, r.fullName(), p.number),
	}
}

func (s *Server) reviewJSON(r *repoState, rv *Review) obj {
	return obj{
		"id": rv.ID, "node_id": fmt.Sprintf("PRR_%d", rv.ID), "user": s.userJSON(rv.User), "body": rv.Body,
		"state": rv.State, "commit_id": rv.CommitID, "submitted_at": ts(rv.SubmittedAt),
		"author_association": s.association(r, rv.User),
		"html_url":           fmt.Sprintf("%s/%s/pull/%d#pullrequestreview-%d", s.URL, r.fullName(), rv.PullNumber, rv.ID),
		"pull_request_url":   fmt.Sprintf("%s/repos/%s/pulls/%d", s.apiBase(), r.fullName(), rv.PullNumber),
	}
}

func (s *Server) reviewCommentJSON(r *repoState, c *ReviewComment) obj {
	o := obj{
		"id": c.ID, "node_id": fmt.Sprintf("PRRC_%d", c.ID), "body": c.Body, "user": s.userJSON(c.User),
		"path": c.Path, "commit_id": c.CommitID, "original_commit_id": c.CommitID,
		"created_at": ts(c.CreatedAt), "updated_at": ts(c.UpdatedAt),
		"author_association": s.association(r, c.User),
		"url":                fmt.Sprintf("%s/repos/%s/pulls/comments/%d", s.apiBase(), r.fullName(), c.ID),
		"html_url":           fmt.Sprintf("%s/%s/pull/%d#discussion_r%d", s.URL, r.fullName(), c.PullNumber, c.ID),
		"pull_request_url":   fmt.Sprintf("%s/repos/%s/pulls/%d", s.apiBase(), r.fullName(), c.PullNumber),
	}
	if c.Line > 0 {
		o["line"], o["original_line"] = c.Line, c.Line
	}
	if c.Side != "" {
		o["side"] = c.Side
	}
	if c.ReviewID != 0 {
		o["pull_request_review_id"] = c.ReviewID
	}
	if c.InReplyTo != 0 {
		o["in_reply_to_id"] = c.InReplyTo
	}
	return o
}

func (s *Server) statusJSON(st *Status) obj {
	return obj{
		"id": st.ID, "node_id": fmt.Sprintf("SC_%d", st.ID), "state": st.State, "context": st.Context,
		"description": nilIfEmpty(st.Description), "target_url": nilIfEmpty(st.TargetURL),
		"creator": s.userJSON(st.Creator), "created_at": ts(st.CreatedAt), "updated_at": ts(st.CreatedAt),
	}
}

func (s *Server) checkRunJSON(r *repoState, cr *CheckRun) obj {
	return obj{
		"id": cr.ID, "node_id": fmt.Sprintf("CR_%d", cr.ID), "head_sha": cr.HeadSHA, "name": cr.Name,
		"status": cr.Status, "conclusion": nilIfEmpty(cr.Conclusion), "details_url": nilIfEmpty(cr.DetailsURL),
		"external_id": cr.ExternalID, "started_at": ts(cr.StartedAt), "completed_at": ts(cr.CompletedAt),
		"output":   obj{"title": nilIfEmpty(cr.Title), "summary": nilIfEmpty(cr.Summary), "text": nilIfEmpty(cr.Text)},
		"url":      fmt.Sprintf("%s/repos/%s/check-runs/%d", s.apiBase(), r.fullName(), cr.ID),
		"html_url": fmt.Sprintf("%s/%s/runs/%d", s.URL, r.fullName(), cr.ID),
	}
}
