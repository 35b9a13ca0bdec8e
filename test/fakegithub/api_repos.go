package fakegithub

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

var statusStates = map[string]bool{"error": true, "failure": true, "pending": true, "success": true}

// commitParam resolves a ref/sha path parameter to a commit, writing 422 like GitHub when unknown.
func (c *reqCtx) commitParam(name string) (string, bool) {
	sha, ok := c.s.resolveCommit(c.repo, c.params[name])
	if !ok {
		validationError(c.w, "Commit", name, "invalid", "No commit found for SHA: "+c.params[name])
	}
	return sha, ok
}

func (s *Server) createStatus(c *reqCtx) {
	if !c.require("write") {
		return
	}
	sha, ok := c.commitParam("sha")
	if !ok {
		return
	}
	var req struct {
		State       string `json:"state"`
		TargetURL   string `json:"target_url"`
		Description string `json:"description"`
		Context     string `json:"context"`
	}
	if !c.decode(&req) {
		return
	}
	if !statusStates[req.State] {
		validationError(c.w, "Status", "state", "invalid", "")
		return
	}
	if req.Context == "" {
		req.Context = "default"
	}
	st := &Status{ID: s.newID(), SHA: sha, State: req.State, Context: req.Context, Description: req.Description,
		TargetURL: req.TargetURL, Creator: c.login, CreatedAt: s.now()}
	c.repo.statuses = append(c.repo.statuses, st)
	c.json(http.StatusCreated, s.statusJSON(st))
}

// statusesFor returns the statuses of sha, newest first.
func statusesFor(r *repoState, sha string) []*Status {
	var out []*Status
	for i := len(r.statuses) - 1; i >= 0; i-- {
		if r.statuses[i].SHA == sha {
			out = append(out, r.statuses[i])
		}
	}
	return out
}

func (s *Server) listStatuses(c *reqCtx) {
	sha, ok := c.commitParam("ref")
	if !ok {
		return
	}
	out := []obj{}
	for _, st := range statusesFor(c.repo, sha) {
		out = append(out, s.statusJSON(st))
	}
	c.json(http.StatusOK, paginate(c, out))
}

func (s *Server) combinedStatus(c *reqCtx) {
	sha, ok := c.commitParam("ref")
	if !ok {
		return
	}
	seen := map[string]bool{}
	latest := []obj{}
	state := "success"
	for _, st := range statusesFor(c.repo, sha) {
		if seen[st.Context] {
			continue
		}
		seen[st.Context] = true
		latest = append(latest, s.statusJSON(st))
		switch {
		case st.State == "error" || st.State == "failure":
			state = "failure"
		case st.State == "pending" && state != "failure":
			state = "pending"
		}
	}
	if len(latest) == 0 {
		state = "pending"
	}
	c.json(http.StatusOK, obj{
		"state": state, "sha": sha, "total_count": len(latest), "statuses": latest,
		"repository": s.repoJSON(c.repo, c.login),
		"commit_url": fmt.Sprintf("%s/repos/%s/commits/%s", s.apiBase(), c.repo.fullName(), sha),
	})
}

type checkRunReq struct {
	Name        *string    `json:"name"`
	HeadSHA     *string    `json:"head_sha"`
	Status      *string    `json:"status"`
	Conclusion  *string    `json:"conclusion"`
	DetailsURL  *string    `json:"details_url"`
	ExternalID  *string    `json:"external_id"`
	StartedAt   *time.Time `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at"`
	Output      *struct {
		Title   string `json:"title"`
		Summary string `json:"summary"`
		Text    string `json:"text"`
	} `json:"output"`
}

// apply copies the set fields of req onto cr.
func (req *checkRunReq) apply(cr *CheckRun, now time.Time) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&cr.Name, req.Name)
	set(&cr.Status, req.Status)
	set(&cr.Conclusion, req.Conclusion)
	set(&cr.DetailsURL, req.DetailsURL)
	set(&cr.ExternalID, req.ExternalID)
	if req.StartedAt != nil {
		cr.StartedAt = *req.StartedAt
	}
	if req.CompletedAt != nil {
		cr.CompletedAt = *req.CompletedAt
	}
	if req.Output != nil {
		cr.Title, cr.Summary, cr.Text = req.Output.Title, req.Output.Summary, req.Output.Text
	}
	if cr.Conclusion != "" {
		cr.Status = "completed"
	}
	if cr.Status == "" {
		cr.Status = "queued"
	}
	if cr.Status == "completed" && cr.CompletedAt.IsZero() {
		cr.CompletedAt = now
	}
}

func (s *Server) createCheckRun(c *reqCtx) {
	if !c.require("write") {
		return
	}
	var req checkRunReq
	if !c.decode(&req) {
		return
	}
	if req.Name == nil || *req.Name == "" {
		validationError(c.w, "CheckRun", "name", "missing_field", "")
		return
	}
	if req.HeadSHA == nil {
		validationError(c.w, "CheckRun", "head_sha", "missing_field", "")
		return
	}
	sha, ok := s.resolveCommit(c.repo, *req.HeadSHA)
	if !ok {
		validationError(c.w, "CheckRun", "head_sha", "invalid", "No commit found for SHA: "+*req.HeadSHA)
		return
	}
	now := s.now()
	cr := &CheckRun{ID: s.newID(), HeadSHA: sha, StartedAt: now}
	req.apply(cr, now)
	c.repo.checkRuns = append(c.repo.checkRuns, cr)
	c.json(http.StatusCreated, s.checkRunJSON(c.repo, cr))
}

func (c *reqCtx) checkRun() *CheckRun {
	id, ok := c.intParam("check_run_id")
	if !ok {
		return nil
	}
	for _, cr := range c.repo.checkRuns {
		if cr.ID == id {
			return cr
		}
	}
	writeError(c.w, http.StatusNotFound, "Not Found")
	return nil
}

func (s *Server) getCheckRun(c *reqCtx) {
	if cr := c.checkRun(); cr != nil {
		c.json(http.StatusOK, s.checkRunJSON(c.repo, cr))
	}
}

func (s *Server) updateCheckRun(c *reqCtx) {
	cr := c.checkRun()
	if cr == nil || !c.require("write") {
		return
	}
	var req checkRunReq
	if !c.decode(&req) {
		return
	}
	req.HeadSHA = nil
	req.apply(cr, s.now())
	c.json(http.StatusOK, s.checkRunJSON(c.repo, cr))
}

func (s *Server) listCheckRuns(c *reqCtx) {
	sha, ok := c.commitParam("ref")
	if !ok {
		return
	}
	q := c.r.URL.Query()
	out := []obj{}
	for i := len(c.repo.checkRuns) - 1; i >= 0; i-- {
		cr := c.repo.checkRuns[i]
		if cr.HeadSHA != sha || (q.Get("check_name") != "" && q.Get("check_name") != cr.Name) ||
			(q.Get("status") != "" && q.Get("status") != cr.Status) {
			continue
		}
		out = append(out, s.checkRunJSON(c.repo, cr))
	}
	total := len(out)
	c.json(http.StatusOK, obj{"total_count": total, "check_runs": paginate(c, out)})
}

func (s *Server) branchObj(r *repoState, name, sha string) obj {
	api := fmt.Sprintf("%s/repos/%s", s.apiBase(), r.fullName())
	return obj{
		"name": name, "protected": false,
		"commit": obj{"sha": sha, "url": api + "/commits/" + sha},
		"_links": obj{"self": api + "/branches/" + name, "html": s.URL + "/" + r.fullName() + "/tree/" + name},
	}
}

func (s *Server) listBranches(c *reqCtx) {
	refs := s.refs(c.repo)
	var names []string
	for ref := range refs {
		if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
			names = append(names, b)
		}
	}
	sort.Strings(names)
	out := []obj{}
	for _, b := range names {
		out = append(out, s.branchObj(c.repo, b, refs["refs/heads/"+b]))
	}
	c.json(http.StatusOK, paginate(c, out))
}

func (s *Server) getBranch(c *reqCtx) {
	b := c.params["branch"]
	sha, ok := s.branchSHA(c.repo, b)
	if !ok {
		writeError(c.w, http.StatusNotFound, "Branch not found")
		return
	}
	c.json(http.StatusOK, s.branchObj(c.repo, b, sha))
}

func (s *Server) refObj(r *repoState, ref, sha string) obj {
	api := fmt.Sprintf("%s/repos/%s/git", s.apiBase(), r.fullName())
	return obj{
		"ref": ref, "node_id": "REF_" + sha[:12], "url": api + "/" + ref,
		"object": obj{"type": "commit", "sha": sha, "url": api + "/commits/" + sha},
	}
}

// normRef turns "heads/x" (or "refs/heads/x") into "refs/heads/x".
func normRef(ref string) string { return "refs/" + strings.TrimPrefix(ref, "refs/") }

func (s *Server) getRef(c *reqCtx) {
	ref := normRef(c.params["ref"])
	sha, ok := s.refs(c.repo)[ref]
	if !ok {
		writeError(c.w, http.StatusNotFound, "Not Found")
		return
	}
	c.json(http.StatusOK, s.refObj(c.repo, ref, sha))
}

// matching returns the refs starting with prefix, sorted.
func (s *Server) matching(r *repoState, prefix string) []obj {
	refs := s.refs(r)
	var names []string
	for ref := range refs {
		if strings.HasPrefix(ref, prefix) {
			names = append(names, ref)
		}
	}
	sort.Strings(names)
	out := []obj{}
	for _, n := range names {
		out = append(out, s.refObj(r, n, refs[n]))
	}
	return out
}

// getRefLegacy is GET git/refs/{ref}: one object on an exact match, else the prefix matches.
func (s *Server) getRefLegacy(c *reqCtx) {
	ref := normRef(c.params["ref"])
	if sha, ok := s.refs(c.repo)[ref]; ok {
		c.json(http.StatusOK, s.refObj(c.repo, ref, sha))
		return
	}
	m := s.matching(c.repo, ref)
	if len(m) == 0 {
		writeError(c.w, http.StatusNotFound, "Not Found")
		return
	}
	c.json(http.StatusOK, m)
}

func (s *Server) matchingRefs(c *reqCtx) {
	c.json(http.StatusOK, paginate(c, s.matching(c.repo, normRef(c.params["ref"]))))
}

func validRefName(ref string) bool {
	return strings.HasPrefix(ref, "refs/") && strings.Count(ref, "/") >= 2 && !strings.Contains(ref, "..") &&
		!strings.ContainsAny(ref, " ~^:?*[\\")
}

func (s *Server) createRef(c *reqCtx) {
	if !c.require("write") {
		return
	}
	var req struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	}
	if !c.decode(&req) {
		return
	}
	if !validRefName(req.Ref) {
		validationError(c.w, "Reference", "ref", "invalid", "Reference name is not valid")
		return
	}
	if _, exists := s.refs(c.repo)[req.Ref]; exists {
		validationError(c.w, "Reference", "ref", "already_exists", "Reference already exists")
		return
	}
	sha, ok := s.resolveCommit(c.repo, req.SHA)
	if !ok || !strings.HasPrefix(sha, req.SHA) || req.SHA == "" {
		validationError(c.w, "Reference", "sha", "invalid", "Object does not exist")
		return
	}
	if _, err := s.runGit(c.repo.gitDir, nil, nil, "update-ref", req.Ref, sha, ""); err != nil {
		writeError(c.w, http.StatusInternalServerError, err.Error())
		return
	}
	c.json(http.StatusCreated, s.refObj(c.repo, req.Ref, sha))
}

func (s *Server) updateRef(c *reqCtx) {
	if !c.require("write") {
		return
	}
	ref := normRef(c.params["ref"])
	var req struct {
		SHA   string `json:"sha"`
		Force bool   `json:"force"`
	}
	if !c.decode(&req) {
		return
	}
	old, exists := s.refs(c.repo)[ref]
	if !exists {
		validationError(c.w, "Reference", "ref", "invalid", "Reference does not exist")
		return
	}
	sha, ok := s.resolveCommit(c.repo, req.SHA)
	if !ok || req.SHA == "" {
		validationError(c.w, "Reference", "sha", "invalid", "Object does not exist")
		return
	}
	if !req.Force {
		if _, err := s.runGit(c.repo.gitDir, nil, nil, "merge-base", "--is-ancestor", old, sha); err != nil {
			validationError(c.w, "Reference", "sha", "custom", "Update is not a fast forward")
			return
		}
	}
	if _, err := s.runGit(c.repo.gitDir, nil, nil, "update-ref", ref, sha, old); err != nil {
		writeError(c.w, http.StatusInternalServerError, err.Error())
		return
	}
	c.json(http.StatusOK, s.refObj(c.repo, ref, sha))
}

func (s *Server) deleteRef(c *reqCtx) {
	if !c.require("write") {
		return
	}
	ref := normRef(c.params["ref"])
	old, exists := s.refs(c.repo)[ref]
	if !exists {
		validationError(c.w, "Reference", "ref", "invalid", "Reference does not exist")
		return
	}
	if ref == "refs/heads/"+c.repo.defaultBranch {
		validationError(c.w, "Reference", "ref", "custom", "Cannot delete the default branch")
		return
	}
	if _, err := s.runGit(c.repo.gitDir, nil, nil, "update-ref", "-d", ref, old); err != nil {
		writeError(c.w, http.StatusInternalServerError, err.Error())
		return
	}
	c.w.WriteHeader(http.StatusNoContent)
}
