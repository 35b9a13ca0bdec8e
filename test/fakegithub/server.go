package fakegithub

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v66/github"
)

const docsURL = "https://docs.github.com/rest"

// Server is a running fake GitHub. Create it with New; it is closed by the test's cleanup.
type Server struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:41234 (no trailing slash).
	URL string

	t       TB
	srv     *httptest.Server
	gitRoot string // GIT_PROJECT_ROOT: <gitRoot>/<owner>/<repo>.git
	home    string // HOME for the git processes the fake runs itself
	routes  []route

	mu       sync.Mutex
	users    map[string]*user  // login -> user
	tokens   map[string]string // token -> login
	repos    map[string]*repoState
	calls    []Call
	failures map[string][]int // endpoint -> queued status codes to answer with
	nextID   int64
	now      func() time.Time
}

type user struct {
	login string
	id    int64
	typ   string // "User" or "Bot"
}

// Call is one recorded REST API request.
type Call struct {
	// Endpoint is the method and route pattern without the /api/v3 prefix, e.g.
	// "POST /repos/{owner}/{repo}/issues/{issue_number}/comments". Unknown routes have the
	// endpoint "<METHOD> <unmatched>".
	Endpoint string
	Method   string
	// Path is the request path without the /api/v3 prefix, e.g. /repos/acme/shop/issues/7.
	Path   string
	Query  string
	Login  string // authenticated user, "" when authentication failed
	Status int
}

// Options configures NewWithOptions.
type Options struct {
	// Listener to serve on instead of a fresh 127.0.0.1 port (e.g. one on an address that pods
	// of a local cluster can reach). URL becomes http://<Listener.Addr()>.
	Listener net.Listener
}

// TB is what the fake needs from its owner: a *testing.T, or a long-running program's own
// implementation (the demo's server).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	TempDir() string
	Cleanup(func())
}

// New starts a fake GitHub on 127.0.0.1 for the test and closes it in t.Cleanup. It needs the
// git binary (with git-http-backend) only when repositories are created.
func New(t testing.TB) *Server {
	t.Helper()
	return NewWithOptions(t, Options{})
}

// NewWithOptions is New with options.
func NewWithOptions(t TB, opts Options) *Server {
	t.Helper()
	dir := t.TempDir()
	s := &Server{
		t:        t,
		gitRoot:  filepath.Join(dir, "git"),
		home:     filepath.Join(dir, "home"),
		users:    map[string]*user{},
		tokens:   map[string]string{},
		repos:    map[string]*repoState{},
		failures: map[string][]int{},
		nextID:   1000,
		now:      func() time.Time { return time.Now().UTC().Truncate(time.Second) },
	}
	for _, d := range []string{s.gitRoot, s.home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("fakegithub: %v", err)
		}
	}
	s.routes = s.apiRoutes()
	s.srv = httptest.NewUnstartedServer(s)
	if opts.Listener != nil {
		s.srv.Listener.Close()
		s.srv.Listener = opts.Listener
	}
	s.srv.Start()
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// APIURL is the REST base URL as go-github uses it: URL + "/api/v3/".
func (s *Server) APIURL() string { return s.URL + "/api/v3/" }

// Client returns a go-github client authenticated with token and pointed at the fake.
func (s *Server) Client(token string) *github.Client {
	c, err := github.NewClient(nil).WithAuthToken(token).WithEnterpriseURLs(s.URL, s.URL)
	if err != nil {
		s.t.Fatalf("fakegithub: client: %v", err)
	}
	return c
}

// AddUser registers a user (type "User") and returns a new random token for it.
func (s *Server) AddUser(login string) string {
	tok := "ghp_" + randomHex(18)
	s.AddToken(login, tok)
	return tok
}

// AddBot registers a user of type "Bot" (login like "dependabot[bot]") and returns a token.
func (s *Server) AddBot(login string) string {
	tok := s.AddUser(login)
	s.mu.Lock()
	s.users[login].typ = "Bot"
	s.mu.Unlock()
	return tok
}

// AddToken registers token as a credential of login, creating the user when needed.
func (s *Server) AddToken(login, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensureUser(login)
	s.tokens[token] = login
}

// SetPermission gives login a role on repo ("owner/name"): admin, maintain, write, triage, read
// or none. The repository owner is admin unless set otherwise.
func (s *Server) SetPermission(repo, login, permission string) {
	switch permission {
	case "admin", "maintain", "write", "triage", "read", "none":
	default:
		s.t.Fatalf("fakegithub: SetPermission: unknown permission %q", permission)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repo)
	s.ensureUser(login)
	r.perms[login] = permission
}

// FailNext makes the next request to endpoint (as in Call.Endpoint) answer with status and a
// GitHub-shaped error body, without touching state. Calls queue up.
func (s *Server) FailNext(endpoint string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[endpoint] = append(s.failures[endpoint], status)
}

// Calls returns a copy of all recorded REST API calls in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallCount returns how many recorded calls hit endpoint, e.g.
// "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}".
func (s *Server) CallCount(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Endpoint == endpoint {
			n++
		}
	}
	return n
}

// ResetCalls forgets the recorded calls.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// ServeHTTP dispatches to the REST API (/api/v3/...) or to git smart HTTP (/{owner}/{repo}.git/...).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/v3/") || r.URL.Path == "/api/v3" {
		s.serveAPI(w, r)
		return
	}
	if r.URL.Path == "/api/graphql" {
		s.serveGraphQL(w, r)
		return
	}
	if owner, repo, ok := gitRepoFromPath(r.URL.Path); ok {
		s.serveGit(w, r, owner, repo)
		return
	}
	writeError(w, http.StatusNotFound, "Not Found")
}

// statusRecorder remembers the status code written.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := &statusRecorder{ResponseWriter: w}
	path := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v3")
	call := Call{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, "/api/v3"), Query: r.URL.RawQuery}
	defer func() {
		call.Status = rec.status
		s.calls = append(s.calls, call)
	}()
	rt, params := s.match(r.Method, path)
	if rt == nil {
		call.Endpoint = r.Method + " <unmatched>"
		writeError(rec, http.StatusNotFound, "Not Found")
		return
	}
	call.Endpoint = r.Method + " " + rt.pattern
	login, ok := s.authenticate(r)
	if !ok {
		writeError(rec, http.StatusUnauthorized, "Bad credentials")
		return
	}
	call.Login = login
	if q := s.failures[call.Endpoint]; len(q) > 0 {
		s.failures[call.Endpoint] = q[1:]
		writeError(rec, q[0], http.StatusText(q[0]))
		return
	}
	c := &reqCtx{s: s, w: rec, r: r, params: params, login: login}
	if o, n := params["owner"], params["repo"]; o != "" && n != "" {
		c.repo = s.repos[strings.ToLower(o+"/"+n)]
		if c.repo == nil || !c.can("read") {
			writeError(rec, http.StatusNotFound, "Not Found")
			return
		}
	}
	rt.handler(c)
}

// authenticate resolves the Authorization header ("token X" or "Bearer X") to a login.
func (s *Server) authenticate(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, found := strings.Cut(h, " ")
	if !found {
		return "", false
	}
	switch strings.ToLower(scheme) {
	case "token", "bearer":
	default:
		return "", false
	}
	login, ok := s.tokens[strings.TrimSpace(tok)]
	return login, ok
}

// ensureUser returns the user, registering it. Callers hold s.mu.
func (s *Server) ensureUser(login string) *user {
	u := s.users[login]
	if u == nil {
		u = &user{login: login, id: s.newID(), typ: "User"}
		if strings.HasSuffix(login, "[bot]") {
			u.typ = "Bot"
		}
		s.users[login] = u
	}
	return u
}

func (s *Server) newID() int64 {
	s.nextID++
	return s.nextID
}

// permission returns login's effective role on r. Callers hold s.mu.
func (s *Server) permission(r *repoState, login string) string {
	if p, ok := r.perms[login]; ok {
		return p
	}
	if strings.EqualFold(login, r.owner) {
		return "admin"
	}
	return "none"
}

var roleRank = map[string]int{"none": 0, "read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}

// allows reports whether role is at least need.
func allows(role, need string) bool { return roleRank[role] >= roleRank[need] }

// reqCtx is one API request being served (s.mu is held).
type reqCtx struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	params map[string]string
	login  string
	repo   *repoState // set for /repos/{owner}/{repo}/... routes
}

// can reports whether the caller has at least need on the request's repository; a public
// repository is readable by everyone.
func (c *reqCtx) can(need string) bool {
	role := c.s.permission(c.repo, c.login)
	if need == "read" && !c.repo.private {
		return true
	}
	return allows(role, need)
}

// require writes 403 and returns false when the caller lacks need.
func (c *reqCtx) require(need string) bool {
	if c.can(need) {
		return true
	}
	writeError(c.w, http.StatusForbidden, "Resource not accessible by integration")
	return false
}

func (c *reqCtx) intParam(name string) (int64, bool) {
	var n int64
	if _, err := fmt.Sscan(c.params[name], &n); err != nil || n <= 0 {
		writeError(c.w, http.StatusNotFound, "Not Found")
		return 0, false
	}
	return n, true
}

// decode reads the JSON body into v, answering 400 like GitHub on bad JSON.
func (c *reqCtx) decode(v any) bool {
	if err := json.NewDecoder(c.r.Body).Decode(v); err != nil {
		writeError(c.w, http.StatusBadRequest, "Problems parsing JSON")
		return false
	}
	return true
}

func (c *reqCtx) json(status int, v any) { writeJSON(c.w, status, v) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"message": msg, "documentation_url": docsURL})
}

// validationError is GitHub's 422 shape.
func validationError(w http.ResponseWriter, resource, field, code, msg string) {
	e := map[string]any{"resource": resource, "code": code}
	if field != "" {
		e["field"] = field
	}
	if msg != "" {
		e["message"] = msg
	}
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed", "errors": []any{e}, "documentation_url": docsURL,
	})
}

// paginate slices items per GitHub's page/per_page parameters and sets the Link header.
func paginate[T any](c *reqCtx, items []T) []T {
	q := c.r.URL.Query()
	per, page := 30, 1
	if v := q.Get("per_page"); v != "" {
		fmt.Sscan(v, &per)
	}
	if v := q.Get("page"); v != "" {
		fmt.Sscan(v, &page)
	}
	per = min(max(per, 1), 100)
	page = max(page, 1)
	last := max((len(items)+per-1)/per, 1)
	link := func(p int) string {
		u := *c.r.URL
		u.Scheme, u.Host = "http", c.r.Host
		qq := u.Query()
		qq.Set("page", fmt.Sprint(p))
		qq.Set("per_page", fmt.Sprint(per))
		u.RawQuery = qq.Encode()
		return u.String()
	}
	var links []string
	if page > 1 {
		links = append(links, fmt.Sprintf("<%s>; rel=\"prev\"", link(page-1)))
	}
	if page < last {
		links = append(links, fmt.Sprintf("<%s>; rel=\"next\"", link(page+1)), fmt.Sprintf("<%s>; rel=\"last\"", link(last)))
	}
	if page > 1 {
		links = append(links, fmt.Sprintf("<%s>; rel=\"first\"", link(1)))
	}
	if len(links) > 0 {
		c.w.Header().Set("Link", strings.Join(links, ", "))
	}
	start := (page - 1) * per
	if start >= len(items) {
		return []T{}
	}
	return items[start:min(start+per, len(items))]
}

// route is one REST endpoint; pattern segments in braces are wildcards, "{x...}" spans one or
// more segments (refs with slashes).
type route struct {
	method  string
	pattern string
	segs    []string
	handler func(*reqCtx)
}

func (s *Server) match(method, escapedPath string) (*route, map[string]string) {
	parts := strings.Split(strings.Trim(escapedPath, "/"), "/")
	for i := range s.routes {
		rt := &s.routes[i]
		if rt.method != method {
			continue
		}
		if params, ok := matchSegs(rt.segs, parts); ok {
			return rt, params
		}
	}
	return nil, nil
}

func matchSegs(segs, parts []string) (map[string]string, bool) {
	params := map[string]string{}
	for i, seg := range segs {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "...}") {
			// A multi-segment wildcard takes what the segments after it leave over.
			tail := segs[i+1:]
			end := len(parts) - len(tail)
			if end <= i {
				return nil, false
			}
			tp, ok := matchSegs(tail, parts[end:])
			if !ok {
				return nil, false
			}
			rest := make([]string, 0, end-i)
			for _, p := range parts[i:end] {
				u, err := url.PathUnescape(p)
				if err != nil {
					return nil, false
				}
				rest = append(rest, u)
			}
			for k, v := range tp {
				params[k] = v
			}
			params[strings.TrimSuffix(seg[1:], "...}")] = strings.Join(rest, "/")
			return params, true
		}
		if i >= len(parts) {
			return nil, false
		}
		if strings.HasPrefix(seg, "{") {
			u, err := url.PathUnescape(parts[i])
			if err != nil || u == "" {
				return nil, false
			}
			params[seg[1:len(seg)-1]] = u
			continue
		}
		if seg != parts[i] {
			return nil, false
		}
	}
	return params, len(segs) == len(parts)
}

func newRoute(spec string, h func(*reqCtx)) route {
	method, pattern, _ := strings.Cut(spec, " ")
	return route{method: method, pattern: pattern, segs: strings.Split(strings.Trim(pattern, "/"), "/"), handler: h}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
