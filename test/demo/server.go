// Package demo runs agentline's main job on the local stack (make demo): a GitHub repository
// (the project's GitHub fake, with real git over HTTP) gets an issue labelled [ai-dev]; the
// controller installed from config/ routes the event; Tekton runs the ai-dev Pipeline's Tasks in
// real pods on the stack's node; the real Codex CLI works in the slot's checkout against a scripted
// model (or a real one when OPENAI_API_KEY is set); the issue ends as a draft pull request.
//
// The Server holds the GitHub fake and the scripted model, which must outlive one command
// (make demo-review and make demo-close come later): `hack/demo serve` runs it as a process of
// the stack. The Driver is everything else: install, seed, deliver events, follow the runs, report.
// The e2e test runs the same Server and Driver in-process.
package demo

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	agithub "github.com/agentline/agentline/pkg/github"
	"github.com/agentline/agentline/test/fakegithub"
	"github.com/agentline/agentline/test/scriptedmodel"
)

//go:embed all:testdata/sample
var sample embed.FS

// The demo's GitHub world.
const (
	// Repo is the sample repository.
	Repo = "acme/shopfront"
	// Owner owns Repo and plays the human: labels the issue, reviews, merges.
	Owner = "alice"
	// Bot is the account agentline acts as (its token is in the agentline-github Secret).
	Bot = "agentline-bot"
	// IssueTitle is the issue the demo files.
	IssueTitle = "Add a /version endpoint"
	// ReviewComment is the change the demo's review asks for.
	ReviewComment = "Please also report the Go version in the /version response (field goVersion)."
)

// IssueBody is the text of the demo's issue.
const IssueBody = "The API should tell which version it runs.\n\n" +
	"- `GET /version` answers `{\"version\": \"1.4.0\"}` as JSON\n- with a test, and `go test ./...` stays green\n"

// State is what the Server tells the Driver (GET /demo/state).
type State struct {
	GitHubURL     string `json:"githubURL"` // the fake's base URL (API under /api/v3/)
	ModelURL      string `json:"modelURL"`  // the scripted model's base URL (ends in /v1)
	Repo          string `json:"repo"`
	CloneURL      string `json:"cloneURL"`
	OwnerToken    string `json:"ownerToken"`
	BotToken      string `json:"botToken"`
	WebhookSecret string `json:"webhookSecret"`
	ModelKey      string `json:"modelKey"`
	Issue         int    `json:"issue"` // the latest demo issue, 0 before seeding
}

// Server is the GitHub fake and the scripted model of the demo, with a small admin API for the
// Driver (/demo/...) in front of the fake.
type Server struct {
	GH    *fakegithub.Server
	Model *scriptedmodel.Server
	// AdminURL serves /demo/state and /demo/event.
	AdminURL string

	mu    sync.Mutex
	state State
	admin *http.Server
}

// Options configure NewServer.
type Options struct {
	// Host is the address to listen on: the node address, so that pods reach the servers.
	Host string
	// Ports of the fake, the model and the admin API (0: any free one).
	GitHubPort, ModelPort, AdminPort int
	// Seed derives the tokens and the webhook secret: the same seed gives the same credentials,
	// so a restarted server matches the Secrets an earlier run installed.
	Seed string
}

// derive returns a credential for purpose from the seed.
func derive(seed, purpose string) string {
	sum := sha256.Sum256([]byte(seed + "/" + purpose))
	return hex.EncodeToString(sum[:16])
}

// NewServer starts the fake, the model and the admin API and seeds the sample repository.
func NewServer(tb fakegithub.TB, o Options) (*Server, error) {
	host, ghPort, modelPort, adminPort := o.Host, o.GitHubPort, o.ModelPort, o.AdminPort
	listen := func(port int) (net.Listener, error) {
		return net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	}
	ghL, err := listen(ghPort)
	if err != nil {
		return nil, fmt.Errorf("demo: GitHub fake: %w", err)
	}
	modelL, err := listen(modelPort)
	if err != nil {
		ghL.Close()
		return nil, fmt.Errorf("demo: model server: %w", err)
	}
	adminL, err := listen(adminPort)
	if err != nil {
		ghL.Close()
		modelL.Close()
		return nil, fmt.Errorf("demo: admin API: %w", err)
	}
	s := &Server{GH: fakegithub.NewWithOptions(tb, fakegithub.Options{Listener: ghL})}
	s.Model = scriptedmodel.NewWithOptions(scriptedmodel.Options{Listener: modelL, Respond: Play})
	tb.Cleanup(s.Model.Close)
	files, err := sampleFiles()
	if err != nil {
		return nil, err
	}
	info := s.GH.CreateRepo(Repo, fakegithub.RepoOptions{Files: files})
	s.state = State{
		GitHubURL: s.GH.URL, ModelURL: s.Model.URL, Repo: Repo, CloneURL: info.CloneURL,
		OwnerToken: "ghp_" + derive(o.Seed, "owner"), BotToken: "ghp_" + derive(o.Seed, "bot"),
		WebhookSecret: derive(o.Seed, "webhook"), ModelKey: "sk-" + derive(o.Seed, "model"),
	}
	s.GH.AddToken(Owner, s.state.OwnerToken)
	s.GH.AddToken(Bot, s.state.BotToken)
	s.GH.SetPermission(Repo, Owner, "admin")
	s.GH.SetPermission(Repo, Bot, "write")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /demo/state", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.State()) })
	mux.HandleFunc("POST /demo/event", s.handleEvent)
	s.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.admin.Serve(adminL) }()
	tb.Cleanup(func() { _ = s.admin.Close() })
	s.AdminURL = "http://" + adminL.Addr().String()
	return s, nil
}

// sampleFiles returns the sample repository's files (go.mod.sample becomes go.mod: a go.mod
// inside this module's tree would make the sample a module of its own, which go:embed refuses).
func sampleFiles() (map[string]string, error) {
	files := map[string]string{}
	err := fs.WalkDir(sample, "testdata/sample", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := sample.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "testdata/sample/")
		name = strings.TrimSuffix(name, ".sample")
		files[name] = string(b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("demo: sample repository: %w", err)
	}
	return files, nil
}

// State returns the server's current state.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Event asks the Server to act as GitHub (and its human) and deliver the webhook to Target.
type Event struct {
	// Kind: ping (what GitHub sends when a webhook is added), push (the default branch's head), label (files the demo issue and labels it
	// [ai-dev]), review (changes requested on PR), close (merges PR).
	Kind   string `json:"kind"`
	Target string `json:"target"`
	PR     int    `json:"pr,omitempty"`
}

// EventResult is the receiver's answer.
type EventResult struct {
	Delivery   string `json:"delivery"`
	Event      string `json:"event"`
	StatusCode int    `json:"statusCode"`
	Body       string `json:"body"`
	Issue      int    `json:"issue,omitempty"`
	// Run is the PipelineRun the controller created (from its answer).
	Run string `json:"run,omitempty"`
}

func (s *Server) handleEvent(w http.ResponseWriter, r *http.Request) {
	var ev Event
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: " + err.Error()})
		return
	}
	res, err := s.Deliver(r.Context(), ev)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// Deliver performs ev on the fake and delivers its signed webhook.
func (s *Server) Deliver(ctx context.Context, ev Event) (*EventResult, error) {
	st := s.State()
	sender := map[string]any{"sender.login": Owner, "sender.type": "User"}
	with := func(m map[string]any) map[string]any {
		for k, v := range sender {
			m[k] = v
		}
		return m
	}
	// A pull request's head and base are this repository (not a fork).
	withPR := func(m map[string]any) map[string]any {
		repo := s.GH.RepositoryOverrides(Repo)
		for _, side := range []string{"head", "base"} {
			for k, v := range repo {
				m["pull_request."+side+".repo."+strings.TrimPrefix(k, "repository.")] = v
			}
		}
		return with(m)
	}
	var wh fakegithub.Webhook
	issue := 0
	switch ev.Kind {
	case "ping":
		wh = fakegithub.Webhook{Fixture: "ping"}
	case "push":
		sha, ok := s.GH.BranchSHA(Repo, "main")
		if !ok {
			return nil, fmt.Errorf("demo: %s has no main branch", Repo)
		}
		wh = fakegithub.Webhook{Fixture: "push", Overrides: with(map[string]any{
			"ref": "refs/heads/main", "after": sha, "deleted": false, "head_commit.id": sha,
			"head_commit.message": "shopfront: seed the sample", "pusher.name": Owner})}
	case "label":
		is := s.GH.AddIssue(Repo, fakegithub.Issue{Title: IssueTitle, Body: IssueBody, User: Owner, Labels: []string{"[ai-dev]"}})
		issue = is.Number
		s.mu.Lock()
		s.state.Issue = issue
		s.mu.Unlock()
		wh = fakegithub.Webhook{Fixture: "issues.labeled", Overrides: with(map[string]any{
			"issue.number": issue, "issue.title": IssueTitle, "issue.body": IssueBody, "issue.state": "open",
			"issue.user.login": Owner, "label.name": "[ai-dev]"})}
	case "review":
		pr, ok := s.GH.PullRequest(Repo, ev.PR)
		if !ok {
			return nil, fmt.Errorf("demo: %s has no pull request #%d (run make demo first)", Repo, ev.PR)
		}
		review := s.GH.AddReview(Repo, pr.Number, Owner, "CHANGES_REQUESTED", "One more thing before this goes in.")
		path := "services/api/version.go"
		s.GH.AddReviewComment(Repo, pr.Number, fakegithub.ReviewComment{User: Owner, Body: ReviewComment, Path: path, Line: 9, ReviewID: review.ID, CommitID: pr.HeadSHA})
		wh = fakegithub.Webhook{Fixture: "pull_request_review.submitted", Overrides: withPR(map[string]any{
			"pull_request.number": pr.Number, "pull_request.state": "open", "pull_request.head.ref": pr.Head,
			"pull_request.head.sha": pr.HeadSHA, "pull_request.base.ref": pr.Base, "pull_request.title": pr.Title,
			"review.id": review.ID, "review.state": "changes_requested", "review.body": review.Body,
			"review.user.login": Owner})}
	case "close":
		pr, ok := s.GH.PullRequest(Repo, ev.PR)
		if !ok {
			return nil, fmt.Errorf("demo: %s has no pull request #%d (run make demo first)", Repo, ev.PR)
		}
		// The owner marks the draft ready and merges it through the REST API.
		s.GH.SetReadyForReview(Repo, pr.Number)
		gh, err := agithub.New(agithub.Options{BaseURL: s.GH.APIURL(), Token: st.OwnerToken})
		if err != nil {
			return nil, err
		}
		merged, err := gh.MergePullRequest(ctx, repo, pr.Number, "squash", pr.HeadSHA)
		if err != nil {
			return nil, fmt.Errorf("demo: merging #%d: %w", pr.Number, err)
		}
		wh = fakegithub.Webhook{Fixture: "pull_request.closed", Overrides: withPR(map[string]any{
			"action": "closed", "number": pr.Number, "pull_request.number": pr.Number, "pull_request.state": "closed",
			"pull_request.merged": true, "pull_request.merge_commit_sha": merged, "pull_request.head.ref": pr.Head,
			"pull_request.head.sha": pr.HeadSHA, "pull_request.base.ref": pr.Base, "pull_request.body": pr.Body})}
	default:
		return nil, fmt.Errorf("demo: unknown event kind %q (ping, push, label, review, close)", ev.Kind)
	}
	wh.Secret = st.WebhookSecret
	res, err := s.GH.Deliver(ctx, ev.Target, Repo, wh)
	if err != nil {
		return nil, err
	}
	return &EventResult{Delivery: res.DeliveryID, Event: res.Event, StatusCode: res.StatusCode, Body: string(res.Body), Issue: issue}, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
