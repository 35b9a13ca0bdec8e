package prapply

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// safeConfig are the repository config keys (lower case) kept in the workspace's .git/config.
// The agent can write anything there, and git would act on it while pr-apply runs with the
// askpass helper: url.<x>.insteadOf or http.proxy could send the token elsewhere, filters,
// hooks, fsmonitor or gpg.program run commands, include.path pulls in more config. So
// everything not listed here is removed before pr-apply runs git in the workspace.
var safeConfig = map[string]bool{
	"core.repositoryformatversion": true, "core.filemode": true, "core.bare": true,
	"core.logallrefupdates": true, "core.ignorecase": true, "core.precomposeunicode": true,
	"core.symlinks": true, "core.autocrlf": true, "core.eol": true, "core.safecrlf": true,
	"core.quotepath": true, "extensions.objectformat": true,
	"remote.origin.url": true, "remote.origin.fetch": true,
	"user.name": true, "user.email": true,
}

// safeConfigKey reports whether key (as `git config --name-only` prints it) may stay.
func safeConfigKey(key string) bool {
	k := strings.ToLower(key)
	if safeConfig[k] {
		return true
	}
	// branch.<name>.remote and branch.<name>.merge (the name may contain dots).
	if rest, ok := strings.CutPrefix(k, "branch."); ok {
		return strings.HasSuffix(rest, ".remote") || strings.HasSuffix(rest, ".merge")
	}
	return false
}

// checkGitDir refuses a workspace whose .git is not a plain directory (a gitdir file or a
// symlink could point git at a repository and config outside the workspace).
func checkGitDir(workspace string) error {
	p := filepath.Join(workspace, ".git")
	st, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("workspace %s: %w", workspace, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("workspace %s: .git is not a directory (a gitdir file or symlink is not accepted)", workspace)
	}
	return nil
}

// sanitizeConfig removes every repository config key that is not in the allowlist and config
// files git would read besides .git/config (config.worktree).
func (s *session) sanitizeConfig(ctx context.Context) error {
	if err := checkGitDir(s.o.Workspace); err != nil {
		return err
	}
	out, err := s.git.run(ctx, "config", "--local", "--no-includes", "--list", "--name-only")
	if err != nil && exitCode(err) != 1 { // 1: empty config
		return fmt.Errorf("read the workspace git config: %w", err)
	}
	seen := map[string]bool{}
	var removed []string
	for _, key := range strings.Split(out, "\n") {
		key = strings.TrimSpace(key)
		if key == "" || seen[strings.ToLower(key)] || safeConfigKey(key) {
			continue
		}
		seen[strings.ToLower(key)] = true
		if _, err := s.git.run(ctx, "config", "--local", "--unset-all", key); err != nil && exitCode(err) != 5 {
			return fmt.Errorf("remove %s from the workspace git config: %w", key, err)
		}
		removed = append(removed, key)
	}
	if len(removed) > 0 {
		s.o.logf("removed from the workspace's .git/config (not allowed while pushing): %s", strings.Join(removed, ", "))
	}
	if err := os.Remove(filepath.Join(s.o.Workspace, ".git", "config.worktree")); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove .git/config.worktree: %w", err)
	}
	return nil
}
