package scriptedmodel

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// CodexVersion is the Codex CLI version the tests run (installed by `make codex`).
const CodexVersion = "0.171.0"

// CodexBinary returns the path of the Codex CLI installed by hack/codex.sh ($AGENTLINE_CODEX, else
// ${AGENTLINE_CACHE:-$HOME/.cache/agentline}/codex/<version>/node_modules/.bin/codex). When it is
// missing the test fails under CI=true and is skipped otherwise, naming `make codex`.
func CodexBinary(t testing.TB) string {
	t.Helper()
	path := os.Getenv("AGENTLINE_CODEX")
	if path == "" {
		cache := os.Getenv("AGENTLINE_CACHE")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache", "agentline")
		}
		path = filepath.Join(cache, "codex", CodexVersion, "node_modules", ".bin", "codex")
	}
	if _, err := exec.LookPath(path); err != nil {
		msg := "Codex CLI " + CodexVersion + " not found at " + path + ": run `make codex` (hack/codex.sh) to install it"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}
