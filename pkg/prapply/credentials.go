package prapply

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// tokenFileEnv names the variable through which the askpass helper finds the token file. Only
// the path travels in the environment; the token itself is read by the helper when git asks.
const tokenFileEnv = "AGENTLINE_GIT_TOKEN_FILE"

// askpassScript answers git's credential prompts: a fixed user name and the first non-blank
// line of the token file as password. It uses shell builtins only (read, printf), so the token
// never appears in the argv of any process.
const askpassScript = `#!/bin/sh
# agentline git askpass helper: answers git's prompts from the token file in $` + tokenFileEnv + `.
case "$1" in
[Uu]sername*) printf '%s\n' x-access-token; exit 0 ;;
esac
if [ ! -r "$` + tokenFileEnv + `" ]; then
	echo "agentline askpass: token file is not readable" >&2
	exit 1
fi
cr=$(printf '\r')
tok=
while read -r tok || [ -n "$tok" ]; do
	tok=${tok%"$cr"}
	tok=${tok%"${tok##*[! 	]}"}
	[ -n "$tok" ] && break
done < "$` + tokenFileEnv + `"
if [ -z "$tok" ]; then
	echo "agentline askpass: token file is empty" >&2
	exit 1
fi
printf '%s\n' "$tok"
`

// credentials is the askpass helper of one pr-apply process: a script in a private temporary
// directory outside the workspace, removed by close.
type credentials struct {
	dir       string
	askpass   string
	tokenFile string
}

// newCredentials writes the askpass helper for tokenFile into a fresh temporary directory and
// checks that it is not inside workspace (the workspace volume is shared with other pods).
func newCredentials(tokenFile, workspace string) (*credentials, error) {
	if tokenFile == "" {
		return nil, errors.New("no token file (--token-file)")
	}
	abs, err := filepath.Abs(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("token file %s: %w", tokenFile, err)
	}
	b, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return nil, fmt.Errorf("token file %s is empty", abs)
	}
	dir, err := os.MkdirTemp("", "agentline-askpass-")
	if err != nil {
		return nil, fmt.Errorf("askpass helper: %w", err)
	}
	if workspace != "" && within(dir, workspace) {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("askpass helper: temporary directory %s is inside the workspace %s (set TMPDIR elsewhere)", dir, workspace)
	}
	p := filepath.Join(dir, "askpass.sh")
	if err := os.WriteFile(p, []byte(askpassScript), 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("askpass helper: %w", err)
	}
	return &credentials{dir: dir, askpass: p, tokenFile: abs}, nil
}

// env is what a git process that talks to the remote needs to authenticate.
func (c *credentials) env() []string {
	return []string{"GIT_ASKPASS=" + c.askpass, tokenFileEnv + "=" + c.tokenFile}
}

// token reads the token, only to redact it from messages.
func (c *credentials) token() string {
	b, err := os.ReadFile(c.tokenFile)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (c *credentials) close() error { return os.RemoveAll(c.dir) }

// within reports whether path is dir or below it (after resolving symlinks where possible).
func within(path, dir string) bool {
	resolve := func(p string) string {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		return p
	}
	rel, err := filepath.Rel(resolve(dir), resolve(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
