package fakegithub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// GraphQL is served at /api/graphql (GitHub Enterprise's path) for the two operations agentline
// uses: the reviewThreads connection of a pull request and the resolveReviewThread mutation.
// Threads are derived from review comments: one per first comment, with id "PRRT_<id>".

// SetThreadResolved marks the review thread started by review comment rootID as resolved or not.
func (s *Server) SetThreadResolved(repo string, rootID int64, resolved bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repo)
	if s.findReviewComment(r, rootID) == nil {
		s.t.Fatalf("fakegithub: SetThreadResolved: no review comment %d in %s", rootID, repo)
	}
	if r.resolved == nil {
		r.resolved = map[int64]bool{}
	}
	r.resolved[rootID] = resolved
}

func (s *Server) serveGraphQL(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := &statusRecorder{ResponseWriter: w}
	call := Call{Method: r.Method, Path: "/graphql", Endpoint: r.Method + " /graphql"}
	defer func() {
		call.Status = rec.status
		s.calls = append(s.calls, call)
	}()
	login, ok := s.authenticate(r)
	if !ok {
		writeError(rec, http.StatusUnauthorized, "Bad credentials")
		return
	}
	call.Login = login
	if r.Method != http.MethodPost {
		writeError(rec, http.StatusNotFound, "Not Found")
		return
	}
	var req struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(rec, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	switch {
	case strings.Contains(req.Query, "resolveReviewThread") || strings.Contains(req.Query, "unresolveReviewThread"):
		s.gqlResolve(rec, login, req.Query, req.Variables)
	case strings.Contains(req.Query, "reviewThreads"):
		s.gqlThreads(rec, login, req.Variables)
	default:
		writeJSON(rec, http.StatusOK, obj{"errors": []obj{{"message": "fakegithub: unsupported GraphQL operation"}}})
	}
}

func gqlError(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusOK, obj{"data": nil, "errors": []obj{{"message": msg}}})
}

func (s *Server) gqlThreads(w http.ResponseWriter, login string, vars map[string]any) {
	owner, _ := vars["owner"].(string)
	name, _ := vars["name"].(string)
	num, _ := vars["number"].(float64)
	r := s.repos[strings.ToLower(owner+"/"+name)]
	if r == nil || (r.private && !allows(s.permission(r, login), "read")) {
		gqlError(w, fmt.Sprintf("Could not resolve to a Repository with the name '%s/%s'.", owner, name))
		return
	}
	if r.pulls[int(num)] == nil {
		writeJSON(w, http.StatusOK, obj{"data": obj{"repository": obj{"pullRequest": nil}}})
		return
	}
	var roots []*ReviewComment
	for _, rc := range r.reviewComments {
		if rc.PullNumber == int(num) && rc.InReplyTo == 0 {
			roots = append(roots, rc)
		}
	}
	start := 0
	if cur, ok := vars["after"].(string); ok {
		start, _ = strconv.Atoi(cur)
	} else if cur, ok := vars["cursor"].(string); ok {
		start, _ = strconv.Atoi(cur)
	}
	const pageSize = 100
	start = min(start, len(roots))
	end := min(start+pageSize, len(roots))
	nodes := []obj{}
	for _, rc := range roots[start:end] {
		nodes = append(nodes, obj{
			"id": fmt.Sprintf("PRRT_%d", rc.ID), "isResolved": r.resolved[rc.ID], "isOutdated": false,
			"line": rc.Line, "path": rc.Path,
			"comments": obj{"nodes": []obj{{"databaseId": rc.ID}}},
		})
	}
	writeJSON(w, http.StatusOK, obj{"data": obj{"repository": obj{"pullRequest": obj{"reviewThreads": obj{
		"pageInfo": obj{"hasNextPage": end < len(roots), "endCursor": strconv.Itoa(end)},
		"nodes":    nodes,
	}}}}})
}

func (s *Server) gqlResolve(w http.ResponseWriter, login, query string, vars map[string]any) {
	id, _ := vars["threadId"].(string)
	if id == "" {
		id, _ = vars["id"].(string)
	}
	rootID, err := strconv.ParseInt(strings.TrimPrefix(id, "PRRT_"), 10, 64)
	if err != nil {
		gqlError(w, fmt.Sprintf("Could not resolve to a node with the global id of '%s'", id))
		return
	}
	for _, r := range s.repos {
		rc := s.findReviewComment(r, rootID)
		if rc == nil || rc.InReplyTo != 0 {
			continue
		}
		if !allows(s.permission(r, login), "write") {
			gqlError(w, "Resource not accessible by integration")
			return
		}
		if r.resolved == nil {
			r.resolved = map[int64]bool{}
		}
		resolve := !strings.Contains(query, "unresolveReviewThread")
		r.resolved[rootID] = resolve
		field := map[bool]string{true: "resolveReviewThread", false: "unresolveReviewThread"}[resolve]
		writeJSON(w, http.StatusOK, obj{"data": obj{field: obj{"thread": obj{"id": id, "isResolved": resolve}}}})
		return
	}
	gqlError(w, fmt.Sprintf("Could not resolve to a node with the global id of '%s'", id))
}
