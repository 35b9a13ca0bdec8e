package prapply

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentline/agentline/pkg/github"
)

// session is what checkout and push share: the options, the askpass helper and the git runner.
type session struct {
	o     *Options
	creds *credentials
	git   *gitRunner
}

func open(o *Options) (*session, error) {
	o.defaults()
	if err := o.validateGit(); err != nil {
		return nil, err
	}
	ws, err := filepath.Abs(o.Workspace)
	if err != nil {
		return nil, fmt.Errorf("workspace %s: %w", o.Workspace, err)
	}
	o.Workspace = ws
	if within(o.TokenFile, ws) {
		return nil, fmt.Errorf("token file %s is inside the workspace %s: mount the Secret elsewhere", o.TokenFile, ws)
	}
	creds, err := newCredentials(o.TokenFile, ws)
	if err != nil {
		return nil, err
	}
	return &session{o: o, creds: creds, git: newGitRunner(o.Git, ws, o.Environ, creds.dir, o.Identity, creds)}, nil
}

func (s *session) close() {
	if err := s.creds.close(); err != nil {
		s.o.logf("warning: removing the askpass helper: %v", err)
	}
}

// target resolves the work branch and the base branch. For a review run they come from the pull
// request; otherwise the base is Options.Base or the remote's default branch.
func (s *session) target(ctx context.Context) (branch, base string, pr *github.PullRequest, err error) {
	o := s.o
	if o.Kind == KindReview {
		if o.GitHub == nil {
			return "", "", nil, errors.New("a review run needs the GitHub API (--token-file)")
		}
		pr, err = o.GitHub.GetPullRequest(ctx, o.Repo, o.PR)
		if err != nil {
			return "", "", nil, fmt.Errorf("review run: %w", err)
		}
		if pr.State != "open" {
			return "", "", nil, fmt.Errorf("review run: pull request %s#%d is %s", o.Repo, o.PR, pr.State)
		}
		if !validBranch(pr.Head) {
			return "", "", nil, fmt.Errorf("review run: head branch %q of %s#%d is not a valid branch name", pr.Head, o.Repo, o.PR)
		}
		base = o.Base
		if base == "" {
			base = pr.Base
		}
		return pr.Head, base, pr, nil
	}
	return IssueBranch(o.BranchPrefix, o.Kind, o.Issue), o.Base, nil, nil
}

// remoteHeads lists the remote's default branch and which of branches exist (branch -> sha).
func (s *session) remoteHeads(ctx context.Context, branches ...string) (heads map[string]string, defaultBranch string, err error) {
	args := []string{"ls-remote", "--symref", s.o.CloneURL, "HEAD"}
	for _, b := range branches {
		if b != "" {
			args = append(args, "refs/heads/"+b)
		}
	}
	out, err := s.git.remoteOutside(ctx, args...)
	if err != nil {
		return nil, "", s.remoteErr("list the branches of", err)
	}
	heads = map[string]string{}
	headSHA := ""
	for _, line := range strings.Split(out, "\n") {
		left, ref, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		if target, isSym := strings.CutPrefix(left, "ref: "); isSym && ref == "HEAD" {
			defaultBranch = strings.TrimPrefix(target, "refs/heads/")
			continue
		}
		if ref == "HEAD" {
			headSHA = left
			continue
		}
		if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
			heads[b] = left
		}
	}
	if _, ok := heads[defaultBranch]; !ok && defaultBranch != "" && headSHA != "" {
		heads[defaultBranch] = headSHA
	}
	return heads, defaultBranch, nil
}

// remoteErr explains a failed command that talked to the remote.
func (s *session) remoteErr(what string, err error) error {
	if authFailed(err) {
		return fmt.Errorf("%s %s: authentication failed: the token in %s is wrong, expired or has no access to %s: %w",
			what, s.o.CloneURL, s.o.TokenFile, s.o.Repo, err)
	}
	return fmt.Errorf("%s %s: %w", what, s.o.CloneURL, err)
}

// fetch updates refs/remotes/origin/<b> for each existing branch and drops the remote-tracking
// refs of branches that are gone.
func (s *session) fetch(ctx context.Context, heads map[string]string, branches ...string) error {
	args := []string{"fetch", "--quiet", "--no-tags", "--no-write-fetch-head", s.o.CloneURL}
	for _, b := range branches {
		if b == "" {
			continue
		}
		if _, ok := heads[b]; ok {
			args = append(args, "+refs/heads/"+b+":refs/remotes/origin/"+b)
		} else if _, err := s.git.run(ctx, "update-ref", "-d", "refs/remotes/origin/"+b); err != nil {
			return fmt.Errorf("drop stale origin/%s: %w", b, err)
		}
	}
	if len(args) == 5 {
		return nil
	}
	if _, err := s.git.remote(ctx, args...); err != nil {
		return s.remoteErr("fetch from", err)
	}
	return nil
}

// ensureRepo makes the workspace a git work tree whose origin is the clone URL (without
// credentials). An existing non-empty folder that is not a work tree is refused.
func (s *session) ensureRepo(ctx context.Context, base string) error {
	ws := s.o.Workspace
	if _, err := os.Stat(filepath.Join(ws, ".git")); err != nil {
		entries, rerr := os.ReadDir(ws)
		switch {
		case rerr == nil && len(entries) > 0:
			return fmt.Errorf("workspace %s is not empty and not a git work tree: refusing to mix a clone into it", ws)
		case rerr != nil && !errors.Is(rerr, os.ErrNotExist):
			return fmt.Errorf("workspace %s: %w", ws, rerr)
		}
		if err := os.MkdirAll(ws, 0o755); err != nil {
			return fmt.Errorf("workspace %s: %w", ws, err)
		}
		s.o.logf("cloning %s into %s", s.o.Repo, ws)
		if _, err := s.git.run(ctx, "init", "--quiet", "--initial-branch="+base); err != nil {
			return fmt.Errorf("init workspace: %w", err)
		}
	}
	if err := s.sanitizeConfig(ctx); err != nil {
		return err
	}
	url, err := s.git.run(ctx, "config", "--local", "--get", "remote.origin.url")
	switch {
	case err != nil && exitCode(err) == 1:
		_, err = s.git.run(ctx, "remote", "add", "origin", s.o.CloneURL)
	case err == nil && url != s.o.CloneURL:
		_, err = s.git.run(ctx, "remote", "set-url", "origin", s.o.CloneURL)
	}
	if err != nil {
		return fmt.Errorf("set origin of the workspace: %w", err)
	}
	return nil
}

// Checkout clones or fetches the repository into the workspace and switches to the work
// branch: the remote branch when it exists (continuing earlier work), else a new branch from
// the base. Uncommitted work of the same branch is kept; uncommitted work of another branch is
// saved under refs/agentline/wip/<branch> before the switch.
func Checkout(ctx context.Context, o Options) (Result, error) {
	s, err := open(&o)
	if err != nil {
		return Result{}, fmt.Errorf("checkout: %w", err)
	}
	defer s.close()
	res, err := s.checkout(ctx)
	if err != nil {
		return res, fmt.Errorf("checkout %s: %w", o.Repo, err)
	}
	return res, nil
}

func (s *session) checkout(ctx context.Context) (Result, error) {
	branch, base, pr, err := s.target(ctx)
	if err != nil {
		return Result{}, err
	}
	heads, def, err := s.remoteHeads(ctx, base, branch)
	if err != nil {
		return Result{}, err
	}
	if base == "" {
		if base = def; base == "" {
			return Result{}, fmt.Errorf("the remote %s reports no default branch: give --base", s.o.CloneURL)
		}
	}
	if s.o.Kind == KindStaging {
		branch = base
	}
	res := Result{Branch: branch, Base: base}
	if pr != nil {
		res.PRNumber, res.PRURL = pr.Number, pr.HTMLURL
	}
	if _, ok := heads[base]; !ok {
		return res, fmt.Errorf("base branch %q does not exist in %s", base, s.o.Repo)
	}
	if _, ok := heads[branch]; !ok && s.o.Kind == KindReview {
		return res, fmt.Errorf("head branch %q of %s#%d does not exist in %s (pull requests from forks are not supported)",
			branch, s.o.Repo, s.o.PR, s.o.Repo)
	}
	if err := s.ensureRepo(ctx, base); err != nil {
		return res, err
	}
	if err := s.fetch(ctx, heads, base, branch); err != nil {
		return res, err
	}
	_, remoteExists := heads[branch]
	if err := s.switchTo(ctx, branch, base, remoteExists); err != nil {
		return res, err
	}
	if s.o.Kind == KindStaging && s.o.SHA != "" {
		if _, err := s.git.run(ctx, "checkout", "--detach", s.o.SHA); err != nil {
			return res, fmt.Errorf("staging: check out %s (is it on %s?): %w", s.o.SHA, base, err)
		}
	}
	if res.Commit, err = s.git.run(ctx, "rev-parse", "HEAD"); err != nil {
		return res, fmt.Errorf("read HEAD: %w", err)
	}
	s.o.logf("workspace %s is on %s at %s", s.o.Workspace, branch, short(res.Commit))
	return res, nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// refExists reports whether ref resolves to a commit.
func (s *session) refExists(ctx context.Context, ref string) bool {
	_, err := s.git.run(ctx, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	return err == nil
}

// isAncestor reports whether commit a is an ancestor of (or equal to) b.
func (s *session) isAncestor(ctx context.Context, a, b string) (bool, error) {
	_, err := s.git.run(ctx, "merge-base", "--is-ancestor", a, b)
	if err == nil {
		return true, nil
	}
	if exitCode(err) == 1 {
		return false, nil
	}
	return false, err
}

// dirty reports whether the work tree has changes, untracked files included.
func (s *session) dirty(ctx context.Context) (bool, error) {
	out, err := s.git.run(ctx, "status", "--porcelain", "--untracked-files=all")
	if err != nil {
		return false, fmt.Errorf("git status: %w", err)
	}
	return out != "", nil
}

func (s *session) switchTo(ctx context.Context, branch, base string, remoteExists bool) error {
	local := "refs/heads/" + branch
	remote := "refs/remotes/origin/" + branch
	baseRef := "refs/remotes/origin/" + base
	cur, _ := s.git.run(ctx, "symbolic-ref", "--quiet", "--short", "HEAD")
	localExists := s.refExists(ctx, local)

	if cur != branch || !localExists {
		if err := s.saveWIP(ctx, cur); err != nil {
			return err
		}
		var err error
		switch {
		case localExists:
			_, err = s.git.run(ctx, "checkout", "--quiet", branch)
		case remoteExists:
			s.o.logf("continuing %s from the remote", branch)
			_, err = s.git.run(ctx, "checkout", "--quiet", "--no-track", "-B", branch, remote)
		default:
			s.o.logf("creating %s from %s", branch, base)
			_, err = s.git.run(ctx, "checkout", "--quiet", "--no-track", "-B", branch, baseRef)
		}
		if err != nil {
			return fmt.Errorf("switch to %s: %w", branch, err)
		}
		if !localExists {
			return nil
		}
	} else {
		s.o.logf("continuing %s in place (uncommitted work is kept)", branch)
	}

	// The local branch existed before: bring it up to date without losing local work.
	if remoteExists {
		behind, err := s.isAncestor(ctx, "HEAD", remote)
		if err != nil {
			return fmt.Errorf("compare %s with origin: %w", branch, err)
		}
		if behind {
			if _, err := s.git.run(ctx, "merge", "--quiet", "--ff-only", remote); err != nil {
				s.o.logf("warning: %s is behind origin but could not fast-forward (local changes in the way): %v", branch, err)
			}
		}
		return nil
	}
	// No remote branch: when everything local is already in the base (e.g. merged and deleted),
	// start again from the base.
	merged, err := s.isAncestor(ctx, "HEAD", baseRef)
	if err != nil {
		return fmt.Errorf("compare %s with %s: %w", branch, base, err)
	}
	if merged {
		if _, err := s.git.run(ctx, "merge", "--quiet", "--ff-only", baseRef); err != nil {
			s.o.logf("warning: could not fast-forward %s to %s: %v", branch, base, err)
		}
	}
	return nil
}

// saveWIP keeps uncommitted work of another branch (or a detached HEAD) as a commit under
// refs/agentline/wip/<name>, then cleans the work tree (ignored files stay) for the switch.
func (s *session) saveWIP(ctx context.Context, cur string) error {
	if !s.refExists(ctx, "HEAD") {
		return nil
	}
	d, err := s.dirty(ctx)
	if err != nil || !d {
		return err
	}
	name := cur
	if name == "" {
		name = "detached"
	}
	idx := s.git.withEnv("GIT_INDEX_FILE=" + filepath.Join(s.creds.dir, "wip-index"))
	steps := [][]string{{"read-tree", "HEAD"}, {"add", "--all"}}
	for _, st := range steps {
		if _, err := idx.run(ctx, st...); err != nil {
			return fmt.Errorf("save uncommitted work of %s: %w", name, err)
		}
	}
	tree, err := idx.run(ctx, "write-tree")
	if err != nil {
		return fmt.Errorf("save uncommitted work of %s: %w", name, err)
	}
	sha, err := s.git.run(ctx, "commit-tree", tree, "-p", "HEAD", "-m", "agentline: uncommitted work of "+name)
	if err != nil {
		return fmt.Errorf("save uncommitted work of %s: %w", name, err)
	}
	ref := "refs/agentline/wip/" + name
	if _, err := s.git.run(ctx, "update-ref", ref, sha); err != nil {
		return fmt.Errorf("save uncommitted work of %s: %w", name, err)
	}
	s.o.logf("uncommitted work of %s saved as %s (%s)", name, ref, short(sha))
	if _, err := s.git.run(ctx, "reset", "--quiet", "--hard"); err != nil {
		return fmt.Errorf("clean the work tree: %w", err)
	}
	if _, err := s.git.run(ctx, "clean", "-d", "--force", "--quiet"); err != nil {
		return fmt.Errorf("clean the work tree: %w", err)
	}
	return nil
}
