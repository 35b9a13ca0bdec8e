package router

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

var dns1123LabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// maxNameLen is the longest PipelineRun name RunName returns (a DNS-1123 label).
const maxNameLen = 63

// RunName is the PipelineRun name for a pipeline started by a delivery: `<pipeline>-<delivery>`
// when the delivery id (GitHub's are lower-case GUIDs) is already a valid DNS-1123 label and
// the result fits in 63 characters, else `<pipeline>-<first 20 hex of sha256(delivery)>`. It is
// deterministic, so a redelivered event maps to the same name and cannot create a second run.
func RunName(pipeline, delivery string) string {
	p := strings.Trim(sanitizeDNS(pipeline), "-")
	if p == "" {
		p = "run"
	}
	if dns1123LabelRE.MatchString(delivery) && len(p)+1+len(delivery) <= maxNameLen {
		return p + "-" + delivery
	}
	sum := sha256.Sum256([]byte(delivery))
	h := hex.EncodeToString(sum[:])[:20]
	if len(p) > maxNameLen-1-len(h) {
		p = strings.TrimRight(p[:maxNameLen-1-len(h)], "-")
	}
	return p + "-" + h
}

func sanitizeDNS(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// IssueKey is the key of an issue or pull request: `owner/repo#N` (issues and PRs share one
// number space in a repository).
func IssueKey(repo string, number int) string {
	return fmt.Sprintf("%s#%d", repo, number)
}

// BranchKey is the key of branch-scoped runs (staging-deploy): `owner/repo@branch`.
func BranchKey(repo, branch string) string {
	return repo + "@" + branch
}
