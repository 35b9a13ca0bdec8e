package prapply

import (
	"strconv"

	taskresults "github.com/agentline/agentline/pkg/results"
)

// Result names (files in --results-dir).
const (
	ResultBranch   = "branch"
	ResultCommit   = "commit"
	ResultPushed   = "pushed"
	ResultPRNumber = "pr-number"
	ResultPRURL    = "pr-url"
	ResultDeleted  = "deleted"
)

// Result is the outcome of checkout or push.
type Result struct {
	// Branch is the work branch.
	Branch string
	// Base is the base branch.
	Base string
	// Commit is the commit the branch points at after the step.
	Commit string
	// Pushed reports whether push updated the remote branch.
	Pushed bool
	// Committed reports whether push made a commit.
	Committed bool
	// PRNumber and PRURL name the pull request (0 and "" when there is none).
	PRNumber int
	PRURL    string
	// PRCreated reports whether push opened the pull request.
	PRCreated bool
}

// Files returns the Tekton results of r.
func (r Result) Files() map[string]string {
	pr := ""
	if r.PRNumber > 0 {
		pr = strconv.Itoa(r.PRNumber)
	}
	return map[string]string{
		ResultBranch: r.Branch, ResultCommit: r.Commit, ResultPushed: strconv.FormatBool(r.Pushed),
		ResultPRNumber: pr, ResultPRURL: r.PRURL,
	}
}

// WriteResults writes one file per result into dir (no trailing newline); a no-op for "".
func WriteResults(dir string, files map[string]string) error {
	return taskresults.Write(dir, files)
}
