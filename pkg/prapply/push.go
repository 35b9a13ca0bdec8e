package prapply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// DefaultCommitSubject is the commit subject when the agent left no summary.
const DefaultCommitSubject = "Apply the agent's changes"

// maxSubject bounds the commit subject taken from the summary (runes, before " (#N)").
const maxSubject = 72

// ErrPushRejected is wrapped by Push when the remote branch moved and a single fetch and rebase
// did not make the push go through.
var ErrPushRejected = errors.New("push rejected")

// Push stages everything the agent changed (respecting .gitignore), commits it when there is
// something to commit, pushes the work branch (fetching and rebasing once on a
// non-fast-forward), and for issue and repair runs finds or opens the draft pull request. A run
// with nothing to commit and nothing to push succeeds with Pushed false.
func Push(ctx context.Context, o Options) (Result, error) {
	if o.Kind == KindStaging {
		return Result{}, errors.New("push: staging runs deploy what was pushed; they never push")
	}
	s, err := open(&o)
	if err != nil {
		return Result{}, fmt.Errorf("push: %w", err)
	}
	defer s.close()
	res, err := s.push(ctx)
	if err != nil {
		return res, fmt.Errorf("push %s: %w", o.Repo, err)
	}
	return res, nil
}

// refNumber is the number appended to commit subjects: the issue, or the pull request of a
// review run without an issue.
func (o *Options) refNumber() int {
	if o.Issue > 0 {
		return o.Issue
	}
	return o.PR
}

func (s *session) push(ctx context.Context) (Result, error) {
	o := s.o
	if (o.Kind == KindIssue || o.Kind == KindRepair) && o.GitHub == nil {
		return Result{}, errors.New("pushing an issue run needs the GitHub API to open the pull request")
	}
	branch, base, pr, err := s.target(ctx)
	if err != nil {
		return Result{}, err
	}
	res := Result{Branch: branch, Base: base}
	if err := s.sanitizeConfig(ctx); err != nil {
		return res, err
	}
	cur, err := s.git.run(ctx, "symbolic-ref", "--quiet", "--short", "HEAD")
	if err != nil || cur != branch {
		if cur == "" {
			cur = "a detached HEAD"
		}
		return res, fmt.Errorf("workspace %s is on %s, not on the work branch %s (run checkout first; did the agent switch branches?)",
			o.Workspace, cur, branch)
	}

	if res.Committed, err = s.commit(ctx); err != nil {
		return res, err
	}
	heads, def, err := s.remoteHeads(ctx, base, branch)
	if err != nil {
		return res, err
	}
	if base == "" {
		base, res.Base = def, def
	}
	head, err := s.git.run(ctx, "rev-parse", "HEAD")
	if err != nil {
		return res, fmt.Errorf("read HEAD: %w", err)
	}
	remoteSHA, remoteExists := heads[branch]
	switch {
	case remoteExists && remoteSHA == head:
		o.logf("%s is up to date on the remote: nothing to push", branch)
	case !remoteExists && s.noNewCommits(ctx, base):
		o.logf("%s has no commits beyond %s: nothing to push", branch, base)
	default:
		if res.Pushed, err = s.pushBranch(ctx, branch); err != nil {
			return res, err
		}
		remoteExists = true
	}
	if res.Commit, err = s.git.run(ctx, "rev-parse", "HEAD"); err != nil {
		return res, fmt.Errorf("read HEAD: %w", err)
	}

	switch {
	case pr != nil:
		res.PRNumber, res.PRURL = pr.Number, pr.HTMLURL
	case remoteExists && base != "":
		p, created, err := s.ensurePR(ctx, branch, base)
		if err != nil {
			return res, err
		}
		if p != nil {
			res.PRNumber, res.PRURL, res.PRCreated = p.Number, p.HTMLURL, created
		}
	}
	return res, nil
}

// noNewCommits reports whether HEAD is already contained in the base branch as last fetched.
func (s *session) noNewCommits(ctx context.Context, base string) bool {
	in, err := s.isAncestor(ctx, "HEAD", "refs/remotes/origin/"+base)
	return err == nil && in
}

// commit stages everything and commits it when the index differs from HEAD.
func (s *session) commit(ctx context.Context) (bool, error) {
	if _, err := s.git.run(ctx, "add", "--all"); err != nil {
		return false, fmt.Errorf("stage changes: %w", err)
	}
	_, err := s.git.run(ctx, "diff", "--cached", "--quiet")
	if err == nil {
		s.o.logf("nothing to commit")
		return false, nil
	}
	if exitCode(err) != 1 {
		return false, fmt.Errorf("compare the index with HEAD: %w", err)
	}
	msg := CommitMessage(s.o.Summary, s.o.refNumber())
	if _, err := s.git.runInput(ctx, strings.NewReader(msg), "commit", "--quiet", "--no-verify", "--file=-"); err != nil {
		return false, fmt.Errorf("commit: %w", err)
	}
	s.o.logf("committed %q", firstLine(msg))
	return true, nil
}

// pushBranch pushes HEAD to the branch; on a non-fast-forward it fetches, rebases once and
// pushes again. It reports false when the remote already had everything.
func (s *session) pushBranch(ctx context.Context, branch string) (bool, error) {
	pushed, rejected, err := s.pushOnce(ctx, branch)
	if err != nil || !rejected {
		return pushed, err
	}
	s.o.logf("the remote %s moved on: fetching and rebasing once", branch)
	if err := s.fetch(ctx, map[string]string{branch: ""}, branch); err != nil {
		return false, err
	}
	remote := "refs/remotes/origin/" + branch
	if _, err := s.git.run(ctx, "rebase", "--quiet", remote); err != nil {
		conflicts, _ := s.git.run(ctx, "diff", "--name-only", "--diff-filter=U")
		if _, abortErr := s.git.run(ctx, "rebase", "--abort"); abortErr != nil {
			s.o.logf("warning: rebase --abort: %v", abortErr)
		}
		return false, fmt.Errorf("%w: %s changed on the remote and rebasing the local commits onto it failed (conflicts: %s); the local commits are kept, resolve by hand: %w",
			ErrPushRejected, branch, orNone(strings.ReplaceAll(conflicts, "\n", ", ")), err)
	}
	if same, _ := s.isAncestor(ctx, "HEAD", remote); same {
		s.o.logf("after the rebase the remote already has everything")
		return false, nil
	}
	pushed, rejected, err = s.pushOnce(ctx, branch)
	if err != nil {
		return false, err
	}
	if rejected {
		return false, fmt.Errorf("%w: %s was rejected again after fetching and rebasing once (someone keeps pushing to it)", ErrPushRejected, branch)
	}
	return pushed, nil
}

func orNone(s string) string {
	if s == "" {
		return "none reported"
	}
	return s
}

// pushOnce pushes HEAD to refs/heads/<branch> without force. rejected is true for a
// non-fast-forward; other failures are errors.
func (s *session) pushOnce(ctx context.Context, branch string) (pushed, rejected bool, err error) {
	out, err := s.git.remote(ctx, "push", "--porcelain", "--no-verify", s.o.CloneURL, "HEAD:refs/heads/"+branch)
	for _, line := range strings.Split(out, "\n") {
		flag, rest, ok := strings.Cut(line, "\t")
		if !ok || !strings.Contains(rest, "refs/heads/"+branch) {
			continue
		}
		switch flag {
		case "!":
			if strings.Contains(rest, "non-fast-forward") || strings.Contains(rest, "fetch first") || strings.Contains(rest, "stale info") {
				return false, true, nil
			}
			return false, false, fmt.Errorf("push %s refused by the remote: %s", branch, rest)
		case "=":
			return false, false, nil
		}
	}
	if err != nil {
		return false, false, s.remoteErr("push to", err)
	}
	s.o.logf("pushed %s", branch)
	return true, false, nil
}

// CommitMessage is the commit message for summary: its first line (markdown heading marks
// dropped, at most 72 characters) with " (#n)" appended as subject, the rest as body. An empty
// summary gives DefaultCommitSubject.
func CommitMessage(summary string, n int) string {
	summary = strings.TrimSpace(strings.ReplaceAll(summary, "\r\n", "\n"))
	subject, body, _ := strings.Cut(summary, "\n")
	subject = strings.TrimSpace(strings.TrimLeft(subject, "#*> "))
	subject = strings.TrimSpace(strings.TrimRight(subject, "*"))
	if subject == "" {
		subject = DefaultCommitSubject
	}
	if utf8.RuneCountInString(subject) > maxSubject {
		r := []rune(subject)
		subject = strings.TrimSpace(string(r[:maxSubject-1])) + "…"
	}
	if n > 0 {
		suffix := fmt.Sprintf(" (#%d)", n)
		if !strings.HasSuffix(subject, suffix) {
			subject += suffix
		}
	}
	if body = strings.TrimSpace(body); body != "" {
		return subject + "\n\n" + body + "\n"
	}
	return subject + "\n"
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
