// Package status tells people on GitHub what agentline's runs are doing: one sticky comment
// per issue or pull request (found again through a hidden marker and edited in place), and the
// commit status `agentline/staging` for staging deploys.
//
// Updates are coalesced per key: the Reporter records what each run looks like as the
// informer sees it, collapses consecutive observations of the same state (a queued run moving
// up the queue is one edit, not one per reconcile), and writes at most once per Interval per
// key. A change of state (queued → running → succeeded) is never skipped.
package status

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/agentline/agentline/pkg/github"
	"github.com/agentline/agentline/pkg/queue"
	"github.com/agentline/agentline/pkg/router"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/client/clientset/versioned"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
)

// Marker is the name of the status comment's hidden marker (see github.Marker).
const Marker = "status"

// CommitContext is the commit status context of staging deploys.
const CommitContext = "agentline/staging"

// forgetAfter is how long a finished key is remembered (to skip identical writes).
const forgetAfter = time.Hour

// DefaultInterval is the shortest time between two writes for one key.
const DefaultInterval = 2 * time.Second

// GitHub is what the Reporter needs from pkg/github's Client.
type GitHub interface {
	UpsertMarkedComment(ctx context.Context, repo gh.Repo, number int, marker, body string) (*gh.Comment, error)
	CreateCommitStatus(ctx context.Context, repo gh.Repo, sha string, st gh.CommitStatus) error
}

// Config is the Reporter's part of the configuration.
type Config struct {
	// Language is "en" or "ru".
	Language string
	// DashboardURL is the Tekton Dashboard base URL ("" = no links).
	DashboardURL string
}

// Reporter writes the status of agentline's runs to GitHub. Call Observe for every PipelineRun
// add or update and Queue with every queue plan; Run does the writing.
type Reporter struct {
	GitHub GitHub
	// Tekton reads TaskRuns (environment, failed task); Kube reads the failed step's log. Both
	// optional.
	Tekton versioned.Interface
	Kube   kubernetes.Interface
	// Config returns the current configuration (nil: English, no Dashboard).
	Config func() Config
	// Secrets returns secret values to mask in logs (the GitHub token, the webhook secret...).
	Secrets func() []string
	// Interval: see DefaultInterval (0 means DefaultInterval; negative means no wait).
	Interval time.Duration
	// LogLines is how many log lines a failure shows (0: 20).
	LogLines int
	Logger   *zap.SugaredLogger

	mu     sync.Mutex
	keys   map[string]*keyState
	posOf  map[string]int // run name → queue position
	wake   chan struct{}
	inited sync.Once
}

type keyState struct {
	latest   time.Time
	name     string
	obj      *v1.PipelineRun
	pending  []snap
	lastSig  string // signature of the last snapshot queued
	lastBody string
	lastCS   string // last commit status state written
	nextAt   time.Time
}

type snap struct {
	pr       *v1.PipelineRun
	state    string
	position int
}

func (s snap) sig() string {
	return fmt.Sprintf("%s/%s/%d/%d/%d", s.pr.Name, s.state, s.position, len(s.pr.Status.ChildReferences), len(s.pr.Status.Results))
}

func (r *Reporter) init() {
	r.inited.Do(func() {
		r.keys = map[string]*keyState{}
		r.posOf = map[string]int{}
		r.wake = make(chan struct{}, 1)
	})
}

func (r *Reporter) log() *zap.SugaredLogger {
	if r.Logger == nil {
		return zap.NewNop().Sugar()
	}
	return r.Logger
}

func (r *Reporter) interval() time.Duration {
	switch {
	case r.Interval == 0:
		return DefaultInterval
	case r.Interval < 0:
		return 0
	}
	return r.Interval
}

// Observe records what pr looks like now. Only the newest run of a key is reported.
func (r *Reporter) Observe(pr *v1.PipelineRun) {
	r.init()
	run, ok := queue.FromPipelineRun(pr)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.observe(run, pr.DeepCopy(), r.posOf[pr.Name])
}

func (r *Reporter) observe(run queue.Run, pr *v1.PipelineRun, pos int) {
	ks := r.keys[run.Key]
	if ks == nil {
		ks = &keyState{}
		r.keys[run.Key] = ks
	}
	if ks.name != "" && ks.name != run.Name && (run.Created.Before(ks.latest) || (run.Created.Equal(ks.latest) && run.Name < ks.name)) {
		return // an older run of the key: the comment is about the newest
	}
	ks.latest, ks.name, ks.obj = run.Created, run.Name, pr
	state := run.WantState()
	if state != queue.StateQueued {
		pos = 0
	}
	s := snap{pr: pr, state: state, position: pos}
	if s.sig() == ks.lastSig {
		return
	}
	ks.lastSig = s.sig()
	if n := len(ks.pending); n > 0 && ks.pending[n-1].state == state && ks.pending[n-1].pr.Name == pr.Name {
		ks.pending[n-1] = s // same state: the newer observation replaces the older
	} else {
		ks.pending = append(ks.pending, s)
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Queue records the queue positions of a plan; queued runs whose position changed are
// reported again.
func (r *Reporter) Queue(p queue.Plan) {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	pos := map[string]int{}
	for _, w := range p.Waiting {
		pos[w.Run.Name] = w.Position
	}
	r.posOf = pos
	for _, ks := range r.keys {
		if ks.obj == nil {
			continue
		}
		run, ok := queue.FromPipelineRun(ks.obj)
		if ok && run.Phase == queue.PhasePending {
			r.observe(run, ks.obj, pos[ks.name])
		}
	}
}

// Pending reports how many snapshots wait to be written (for tests and metrics).
func (r *Reporter) Pending() int {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ks := range r.keys {
		n += len(ks.pending)
	}
	return n
}

// Run writes pending updates until ctx ends.
func (r *Reporter) Run(ctx context.Context) {
	r.init()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := r.flush(ctx)
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-timer.C:
		}
	}
}

type job struct {
	key string
	s   snap
}

// flush writes one snapshot of every key that is due and returns when the next key is due.
func (r *Reporter) flush(ctx context.Context) time.Time {
	now := time.Now()
	var jobs []job
	var next time.Time
	r.mu.Lock()
	for key, ks := range r.keys {
		if len(ks.pending) == 0 {
			// Forget keys whose newest run ended long ago (a later run starts afresh; the
			// comment is found again through its marker).
			if ks.obj != nil && ks.obj.IsDone() && now.Sub(ks.nextAt) > forgetAfter {
				delete(r.keys, key)
			}
			continue
		}
		if now.Before(ks.nextAt) {
			if next.IsZero() || ks.nextAt.Before(next) {
				next = ks.nextAt
			}
			continue
		}
		jobs = append(jobs, job{key, ks.pending[0]})
		ks.pending = ks.pending[1:]
		ks.nextAt = now.Add(r.interval())
		if len(ks.pending) > 0 && (next.IsZero() || ks.nextAt.Before(next)) {
			next = ks.nextAt
		}
	}
	r.mu.Unlock()
	for _, j := range jobs {
		if err := r.write(ctx, j.key, j.s); err != nil && ctx.Err() == nil {
			r.log().Warnw("status: could not report on GitHub", "key", j.key, "run", j.s.pr.Name, "state", j.s.state, "error", err)
		}
	}
	return next
}

func (r *Reporter) config() Config {
	if r.Config == nil {
		return Config{Language: "en"}
	}
	return r.Config()
}

func (r *Reporter) write(ctx context.Context, key string, s snap) error {
	repoName, number, branchKey := splitKey(key)
	repo, err := gh.ParseRepo(repoName)
	if err != nil {
		return fmt.Errorf("status of %s: %w", key, err)
	}
	cfg := r.config()
	d := r.details(ctx, cfg, s)
	var errs []string
	if run, _ := queue.FromPipelineRun(s.pr); run.Kind == router.PipelineStagingDeploy {
		if err := r.commitStatus(ctx, key, repo, s, d); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if !branchKey {
		body := Render(cfg.Language, d)
		r.mu.Lock()
		same := r.keys[key] != nil && r.keys[key].lastBody == body
		r.mu.Unlock()
		if !same {
			if _, err := r.GitHub.UpsertMarkedComment(ctx, repo, number, Marker, body); err != nil {
				errs = append(errs, err.Error())
			} else {
				r.mu.Lock()
				if ks := r.keys[key]; ks != nil {
					ks.lastBody = body
				}
				r.mu.Unlock()
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func (r *Reporter) commitStatus(ctx context.Context, key string, repo gh.Repo, s snap, d Details) error {
	sha := param(s.pr, router.ParamSHA)
	if sha == "" {
		return nil
	}
	state, desc := "pending", "queued"
	switch s.state {
	case queue.StateRunning:
		desc = "deploying to staging"
	case queue.StateSucceeded:
		state, desc = "success", "deployed to staging"
	case queue.StateFailed:
		state, desc = "failure", "staging deploy failed"
		if d.FailedTask != "" {
			desc += " in " + d.FailedTask
		}
	case queue.StateCancelled, queue.StateSuperseded:
		state, desc = "error", "staging deploy cancelled"
	}
	r.mu.Lock()
	ks := r.keys[key]
	same := ks != nil && ks.lastCS == s.pr.Name+"/"+desc
	r.mu.Unlock()
	if same {
		return nil
	}
	if err := r.GitHub.CreateCommitStatus(ctx, repo, sha, gh.CommitStatus{State: state, Context: CommitContext, Description: desc, TargetURL: d.Dashboard}); err != nil {
		return err
	}
	r.mu.Lock()
	if ks != nil {
		ks.lastCS = s.pr.Name + "/" + desc
	}
	r.mu.Unlock()
	return nil
}

// splitKey splits owner/repo#N (number) or owner/repo@branch (branchKey).
func splitKey(key string) (repo string, number int, branchKey bool) {
	if r, n, ok := strings.Cut(key, "#"); ok {
		num, _ := strconv.Atoi(n)
		return r, num, false
	}
	r, _, _ := strings.Cut(key, "@")
	return r, 0, true
}

func param(pr *v1.PipelineRun, name string) string {
	for _, p := range pr.Spec.Params {
		if p.Name == name {
			return p.Value.StringVal
		}
	}
	return ""
}
