package fakegithub

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

var (
	httpBackendOnce sync.Once
	httpBackendPath string
	httpBackendErr  error
)

// gitHTTPBackend finds git-http-backend next to the git binary.
func gitHTTPBackend() (string, error) {
	httpBackendOnce.Do(func() {
		out, err := exec.Command("git", "--exec-path").Output()
		if err != nil {
			httpBackendErr = fmt.Errorf("fakegithub: git --exec-path: %w (is git installed?)", err)
			return
		}
		p := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
		if _, err := os.Stat(p); err != nil {
			httpBackendErr = fmt.Errorf("fakegithub: git-http-backend not found: %w", err)
			return
		}
		httpBackendPath = p
	})
	return httpBackendPath, httpBackendErr
}

// gitEnv is the environment of git processes the fake runs: isolated from the user's config.
func (s *Server) gitEnv(extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + s.home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"LC_ALL=C",
		"GIT_AUTHOR_NAME=GitHub", "GIT_AUTHOR_EMAIL=noreply@github.com",
		"GIT_COMMITTER_NAME=GitHub", "GIT_COMMITTER_EMAIL=noreply@github.com",
	}
	return append(env, extra...)
}

// runGit runs git with args in dir and returns trimmed stdout.
func (s *Server) runGit(dir string, stdin io.Reader, env []string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = s.gitEnv(env...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return strings.TrimSpace(stdout.String()), fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// CreateRepo creates repository fullName ("owner/name") with a bare git repository whose
// default branch holds an initial commit (files from opts, or a README.md), unless opts.Empty.
// The owner becomes a user of the fake and admin of the repository.
func (s *Server) CreateRepo(fullName string, opts RepoOptions) RepoInfo {
	s.t.Helper()
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok || owner == "" || name == "" || strings.ContainsAny(name, "/\\") || strings.HasSuffix(name, ".git") {
		s.t.Fatalf("fakegithub: CreateRepo: %q is not owner/name", fullName)
	}
	if opts.DefaultBranch == "" {
		opts.DefaultBranch = "main"
	}
	s.mu.Lock()
	if s.repos[strings.ToLower(fullName)] != nil {
		s.mu.Unlock()
		s.t.Fatalf("fakegithub: CreateRepo: %s already exists", fullName)
	}
	s.mu.Unlock()

	gitDir := filepath.Join(s.gitRoot, owner, name+".git")
	if _, err := s.runGit(s.home, nil, nil, "init", "-q", "--bare", "--initial-branch="+opts.DefaultBranch, gitDir); err != nil {
		s.t.Fatalf("fakegithub: CreateRepo %s: %v", fullName, err)
	}
	if _, err := s.runGit(gitDir, nil, nil, "config", "http.receivepack", "true"); err != nil {
		s.t.Fatalf("fakegithub: CreateRepo %s: %v", fullName, err)
	}
	if !opts.Empty {
		if err := s.seedCommit(gitDir, name, opts); err != nil {
			s.t.Fatalf("fakegithub: CreateRepo %s: %v", fullName, err)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensureUser(owner)
	r := &repoState{
		id: s.newID(), owner: owner, name: name, private: opts.Private, defaultBranch: opts.DefaultBranch,
		gitDir: gitDir, createdAt: s.now(), perms: map[string]string{}, issues: map[int]*Issue{},
		pulls: map[int]*pull{}, nextNumber: 1,
	}
	s.repos[strings.ToLower(fullName)] = r
	return s.info(r)
}

// seedCommit writes the initial commit of a new bare repository from a temporary work tree.
func (s *Server) seedCommit(gitDir, name string, opts RepoOptions) error {
	wt, err := os.MkdirTemp(filepath.Dir(s.home), "seed-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(wt)
	if opts.SeedDir != "" {
		if err := os.CopyFS(wt, os.DirFS(opts.SeedDir)); err != nil {
			return fmt.Errorf("copy seed dir %s: %w", opts.SeedDir, err)
		}
		if err := os.RemoveAll(filepath.Join(wt, ".git")); err != nil {
			return err
		}
	}
	for p, content := range opts.Files {
		full := filepath.Join(wt, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			return err
		}
	}
	if opts.SeedDir == "" && len(opts.Files) == 0 {
		if err := os.WriteFile(filepath.Join(wt, "README.md"), []byte("# "+name+"\n"), 0o644); err != nil {
			return err
		}
	}
	index := []string{"GIT_INDEX_FILE=" + filepath.Join(wt, ".fake-index"), "GIT_DIR=" + gitDir, "GIT_WORK_TREE=" + wt}
	if _, err := s.runGit(wt, nil, index, "add", "-A", "--", ".", ":!.fake-index"); err != nil {
		return err
	}
	tree, err := s.runGit(wt, nil, index, "write-tree")
	if err != nil {
		return err
	}
	commit, err := s.runGit(wt, nil, index, "commit-tree", tree, "-m", "Initial commit")
	if err != nil {
		return err
	}
	_, err = s.runGit(wt, nil, index, "update-ref", "refs/heads/"+opts.DefaultBranch, commit)
	return err
}

// refs returns all refs (refs/heads/x, refs/tags/y) of r with their object ids.
func (s *Server) refs(r *repoState) map[string]string {
	out, err := s.runGit(r.gitDir, nil, nil, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads", "refs/tags")
	refs := map[string]string{}
	if err != nil {
		return refs
	}
	for _, line := range strings.Split(out, "\n") {
		if sha, ref, ok := strings.Cut(line, " "); ok {
			refs[ref] = sha
		}
	}
	return refs
}

// branchSHA resolves a branch of r to its commit.
func (s *Server) branchSHA(r *repoState, branch string) (string, bool) {
	if branch == "" {
		return "", false
	}
	sha, err := s.runGit(r.gitDir, nil, nil, "rev-parse", "--verify", "-q", "refs/heads/"+branch+"^{commit}")
	return sha, err == nil && sha != ""
}

// resolveCommit resolves a sha, branch or tag of r to a full commit id.
func (s *Server) resolveCommit(r *repoState, ref string) (string, bool) {
	if ref == "" || strings.HasPrefix(ref, "-") {
		return "", false
	}
	sha, err := s.runGit(r.gitDir, nil, nil, "rev-parse", "--verify", "-q", ref+"^{commit}")
	return sha, err == nil && sha != ""
}

// Branches returns the branches of repo with their commit ids, read from the bare repository.
func (s *Server) Branches(repo string) map[string]string {
	s.mu.Lock()
	r := s.mustRepo(repo)
	s.mu.Unlock()
	out := map[string]string{}
	for ref, sha := range s.refs(r) {
		if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
			out[b] = sha
		}
	}
	return out
}

// BranchSHA returns the commit id of branch in repo.
func (s *Server) BranchSHA(repo, branch string) (string, bool) {
	s.mu.Lock()
	r := s.mustRepo(repo)
	s.mu.Unlock()
	return s.branchSHA(r, branch)
}

// FileAt returns the content of path at ref (branch, tag or sha) of repo.
func (s *Server) FileAt(repo, ref, path string) (string, bool) {
	s.mu.Lock()
	r := s.mustRepo(repo)
	s.mu.Unlock()
	sha, ok := s.resolveCommit(r, ref)
	if !ok {
		return "", false
	}
	out, err := exec.Command("git", "--git-dir", r.gitDir, "cat-file", "blob", sha+":"+path).Output()
	if err != nil {
		return "", false
	}
	return string(out), true
}

// CommitFiles commits files (path -> content) on top of branch of repo, creating the branch from
// the default branch when it does not exist, and returns the new commit id. It stands for a push
// by someone else.
func (s *Server) CommitFiles(repo, branch string, files map[string]string, message string) string {
	s.t.Helper()
	s.mu.Lock()
	r := s.mustRepo(repo)
	s.mu.Unlock()
	sha, err := s.commitFiles(r, branch, files, message)
	if err != nil {
		s.t.Fatalf("fakegithub: CommitFiles %s %s: %v", repo, branch, err)
	}
	return sha
}

func (s *Server) commitFiles(r *repoState, branch string, files map[string]string, message string) (string, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(s.home), "commit-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	env := []string{"GIT_INDEX_FILE=" + filepath.Join(tmp, "index"), "GIT_DIR=" + r.gitDir}
	old, exists := s.branchSHA(r, branch)
	parent := old
	if !exists {
		parent, _ = s.branchSHA(r, r.defaultBranch)
	}
	if parent != "" {
		if _, err := s.runGit(tmp, nil, env, "read-tree", parent); err != nil {
			return "", err
		}
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		blob, err := s.runGit(tmp, strings.NewReader(files[p]), env, "hash-object", "-w", "--stdin")
		if err != nil {
			return "", err
		}
		if _, err := s.runGit(tmp, nil, env, "update-index", "--add", "--cacheinfo", "100644,"+blob+","+p); err != nil {
			return "", err
		}
	}
	tree, err := s.runGit(tmp, nil, env, "write-tree")
	if err != nil {
		return "", err
	}
	args := []string{"commit-tree", tree, "-m", message}
	if parent != "" {
		args = append(args, "-p", parent)
	}
	commit, err := s.runGit(tmp, nil, env, args...)
	if err != nil {
		return "", err
	}
	upd := []string{"update-ref", "refs/heads/" + branch, commit}
	if exists {
		upd = append(upd, old)
	}
	if _, err := s.runGit(tmp, nil, env, upd...); err != nil {
		return "", err
	}
	return commit, nil
}

var errNotMergeable = errors.New("Pull Request is not mergeable")

// mergeBranches merges head into base in r's bare repository (method merge, squash or rebase;
// rebase only as a fast-forward) and returns the new tip of base.
func (s *Server) mergeBranches(r *repoState, base, head, method, message string) (string, error) {
	baseSHA, ok1 := s.branchSHA(r, base)
	headSHA, ok2 := s.branchSHA(r, head)
	if !ok1 || !ok2 {
		return "", errNotMergeable
	}
	if _, err := s.runGit(r.gitDir, nil, nil, "merge-base", "--is-ancestor", headSHA, baseSHA); err == nil {
		return "", errNotMergeable // nothing to merge
	}
	var commit string
	switch method {
	case "rebase":
		if _, err := s.runGit(r.gitDir, nil, nil, "merge-base", "--is-ancestor", baseSHA, headSHA); err != nil {
			return "", fmt.Errorf("%w: the fake only rebases as a fast-forward", errNotMergeable)
		}
		commit = headSHA
	case "merge", "squash", "":
		tree, err := s.runGit(r.gitDir, nil, nil, "merge-tree", "--write-tree", baseSHA, headSHA)
		if err != nil {
			return "", errNotMergeable // conflicts
		}
		tree, _, _ = strings.Cut(tree, "\n")
		args := []string{"commit-tree", tree, "-p", baseSHA, "-m", message}
		if method != "squash" {
			args = append(args, "-p", headSHA)
		}
		if commit, err = s.runGit(r.gitDir, nil, nil, args...); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("unknown merge method %q", method)
	}
	if _, err := s.runGit(r.gitDir, nil, nil, "update-ref", "refs/heads/"+base, commit, baseSHA); err != nil {
		return "", err
	}
	return commit, nil
}

// gitRepoFromPath parses /{owner}/{repo}.git[/...].
func gitRepoFromPath(p string) (owner, repo string, ok bool) {
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 3)
	if len(parts) < 2 || parts[0] == "" || !strings.HasSuffix(parts[1], ".git") || parts[1] == ".git" {
		return "", "", false
	}
	return parts[0], strings.TrimSuffix(parts[1], ".git"), true
}

// gitCredentials extracts a token from basic auth (token as password, or as user name with an
// empty password) or from an "Authorization: token/Bearer X" header.
func gitCredentials(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(h, " ")
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		if err != nil {
			return ""
		}
		u, p, _ := strings.Cut(string(raw), ":")
		if p == "" || p == "x-oauth-basic" {
			return u
		}
		return p
	case "token", "bearer":
		return strings.TrimSpace(rest)
	}
	return ""
}

// serveGit serves git smart HTTP through git http-backend after checking the token.
func (s *Server) serveGit(w http.ResponseWriter, r *http.Request, owner, name string) {
	s.mu.Lock()
	login, authed := s.tokens[gitCredentials(r)]
	repo := s.repos[strings.ToLower(owner+"/"+name)]
	var role string
	var private bool
	if repo != nil {
		role, private = s.permission(repo, login), repo.private
	}
	s.mu.Unlock()

	if !authed {
		w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		http.Error(w, "Invalid username or token. Password authentication is not supported for Git operations.", http.StatusUnauthorized)
		return
	}
	if repo == nil || (private && !allows(role, "read")) {
		http.Error(w, "Repository not found.", http.StatusNotFound)
		return
	}
	push := r.URL.Query().Get("service") == "git-receive-pack" || strings.HasSuffix(r.URL.Path, "/git-receive-pack")
	if push && !allows(role, "write") {
		http.Error(w, fmt.Sprintf("Permission to %s.git denied to %s.", repo.fullName(), login), http.StatusForbidden)
		return
	}
	backend, err := gitHTTPBackend()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// Serve the canonical on-disk path whatever the case of the request.
	rest := strings.TrimPrefix(r.URL.Path, "/"+owner+"/"+name+".git")
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + repo.fullName() + ".git" + rest
	r2.URL.RawPath = ""
	h := &cgi.Handler{
		Path: backend,
		Dir:  s.home,
		Env: []string{
			"GIT_PROJECT_ROOT=" + s.gitRoot,
			"GIT_HTTP_EXPORT_ALL=1",
			"REMOTE_USER=" + login,
			"HOME=" + s.home,
			"GIT_CONFIG_NOSYSTEM=1",
		},
		Stderr: io.Discard,
	}
	h.ServeHTTP(w, r2)
}
