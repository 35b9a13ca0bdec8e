// Package webhook is agentline's HTTP endpoint for GitHub webhooks: it checks the HMAC
// SHA-256 signature, parses and routes the event (pkg/router), checks that the sender is
// trusted, and creates, cancels or retries PipelineRuns through small interfaces (implemented
// by pkg/runs).
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/agentline/agentline/pkg/router"
	"github.com/google/go-github/v66/github"
	"go.uber.org/zap"
)

// MaxBodyBytes is the largest webhook body accepted (GitHub caps payloads at 25 MiB).
const MaxBodyBytes = 25 << 20

// RunCreator creates the PipelineRun of a route (Action create or cancel-then-cleanup).
type RunCreator interface {
	// Create returns the run name; duplicate is true when a run of that name already existed
	// (a redelivered event).
	Create(ctx context.Context, route *router.Route) (name string, duplicate bool, err error)
}

// Canceller cancels the active runs of a route's key.
type Canceller interface {
	Cancel(ctx context.Context, route *router.Route) (cancelled []string, err error)
}

// Retrier starts the last failed run of a route's key again; name is "" when there is none.
type Retrier interface {
	Retry(ctx context.Context, route *router.Route) (name string, duplicate bool, err error)
}

// Outcomes reported in Response.Outcome.
const (
	OutcomeCreated   = "created"
	OutcomeDuplicate = "duplicate"
	OutcomeIgnored   = "ignored"
	OutcomeCancelled = "cancelled"
	OutcomeError     = "error"
)

// Reasons of ignored routed events (besides router reasons and sender reasons).
const (
	ReasonNoActiveRun = "no-active-run"
	ReasonNoFailedRun = "no-failed-run"
)

// Response is the JSON body of every answer.
type Response struct {
	Outcome   string   `json:"outcome"`
	Reason    string   `json:"reason,omitempty"`
	Detail    string   `json:"detail,omitempty"`
	Event     string   `json:"event,omitempty"`
	Delivery  string   `json:"delivery,omitempty"`
	Key       string   `json:"key,omitempty"`
	Run       string   `json:"run,omitempty"`
	Cancelled []string `json:"cancelled,omitempty"`

	status int
}

// Options configure a Handler. Secret, Config, Trust (or Permissions) and Runs are required.
type Options struct {
	// Secret returns the current webhook secret; an empty secret makes every request fail
	// (unsigned webhooks are never accepted).
	Secret func() []byte
	// Config returns the current router configuration.
	Config func() router.Config
	// Permissions backs the trust check; a Trust with DefaultPermissionTTL is built from it
	// unless Trust is set.
	Permissions PermissionChecker
	// Trust overrides the trust check (e.g. to share its cache with the interceptor).
	Trust *Trust
	// Commenter tells rejected senders why (optional).
	Commenter Commenter
	// NoticeTTL: see Notifier.TTL.
	NoticeTTL time.Duration
	// Now is the clock of the notice set (nil: time.Now).
	Now func() time.Time
	// Runs creates PipelineRuns; Canceller and Retrier serve /cancel, closes and /retry
	// (without them those routes answer 501).
	Runs      RunCreator
	Canceller Canceller
	Retrier   Retrier
	// MaxBodyBytes overrides the body limit (0: MaxBodyBytes).
	MaxBodyBytes int64
	// Logger receives one structured line per request (nil: no logs).
	Logger *zap.SugaredLogger
	// OnOutcome, when set, is called with every response (for metrics).
	OnOutcome func(status int, r Response)
}

// Handler is the webhook http.Handler.
type Handler struct {
	o      Options
	trust  *Trust
	notice *Notifier
	log    *zap.SugaredLogger
}

// New returns a Handler, or an error naming the missing option.
func New(o Options) (*Handler, error) {
	switch {
	case o.Secret == nil:
		return nil, errors.New("webhook: Options.Secret is required")
	case o.Config == nil:
		return nil, errors.New("webhook: Options.Config is required")
	case o.Runs == nil:
		return nil, errors.New("webhook: Options.Runs is required")
	case o.Trust == nil && o.Permissions == nil:
		return nil, errors.New("webhook: Options.Trust or Options.Permissions is required")
	}
	h := &Handler{o: o, trust: o.Trust, log: o.Logger}
	if h.trust == nil {
		h.trust = &Trust{Checker: o.Permissions, Now: o.Now}
	}
	if h.log == nil {
		h.log = zap.NewNop().Sugar()
	}
	if h.o.MaxBodyBytes <= 0 {
		h.o.MaxBodyBytes = MaxBodyBytes
	}
	h.notice = &Notifier{Commenter: o.Commenter, TTL: o.NoticeTTL, Now: o.Now}
	return h, nil
}

func fail(status int, format string, args ...any) Response {
	return Response{Outcome: OutcomeError, Detail: fmt.Sprintf(format, args...), status: status}
}

// ServeHTTP handles one delivery.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	resp := h.serve(w, r)
	if resp.Event == "" {
		resp.Event = github.WebHookType(r)
	}
	if resp.Delivery == "" {
		resp.Delivery = github.DeliveryID(r)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.status)
	_ = json.NewEncoder(w).Encode(resp)
	fields := []any{"event", resp.Event, "delivery", resp.Delivery, "status", resp.status, "outcome", resp.Outcome,
		"duration", time.Since(start)}
	for _, kv := range [][2]string{{"reason", resp.Reason}, {"detail", resp.Detail}, {"key", resp.Key}, {"run", resp.Run}} {
		if kv[1] != "" {
			fields = append(fields, kv[0], kv[1])
		}
	}
	if len(resp.Cancelled) > 0 {
		fields = append(fields, "cancelled", resp.Cancelled)
	}
	if resp.status >= 500 {
		h.log.Errorw("webhook delivery failed", fields...)
	} else {
		h.log.Infow("webhook delivery", fields...)
	}
	if h.o.OnOutcome != nil {
		h.o.OnOutcome(resp.status, resp)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) Response {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return fail(http.StatusMethodNotAllowed, "method %s not allowed; GitHub webhooks are POSTed", r.Method)
	}
	limit := h.o.MaxBodyBytes
	if r.ContentLength > limit {
		return fail(http.StatusRequestEntityTooLarge, "body of %d bytes exceeds %d", r.ContentLength, limit)
	}
	secret := h.o.Secret()
	if len(secret) == 0 {
		return fail(http.StatusInternalServerError, "webhook secret is not configured; refusing unsigned deliveries")
	}
	sig := r.Header.Get(github.SHA256SignatureHeader)
	if sig == "" {
		return fail(http.StatusUnauthorized, "missing %s header", github.SHA256SignatureHeader)
	}
	if !strings.HasPrefix(sig, "sha256=") {
		return fail(http.StatusUnauthorized, "%s is not an HMAC SHA-256 signature", github.SHA256SignatureHeader)
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (ct != "application/json" && ct != "application/x-www-form-urlencoded") {
		return fail(http.StatusUnsupportedMediaType, "unsupported Content-Type %q (want application/json)", r.Header.Get("Content-Type"))
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	payload, err := github.ValidatePayload(r, secret)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fail(http.StatusRequestEntityTooLarge, "body exceeds %d bytes", limit)
		}
		// Other errors are signature mismatches or unreadable bodies; do not echo the signature.
		return fail(http.StatusUnauthorized, "signature check failed")
	}
	event, delivery := github.WebHookType(r), github.DeliveryID(r)
	if event == "" {
		return fail(http.StatusBadRequest, "missing X-GitHub-Event header")
	}
	if delivery == "" {
		return fail(http.StatusBadRequest, "missing X-GitHub-Delivery header")
	}
	cfg := h.o.Config()
	d, err := router.Decide(event, delivery, payload, cfg)
	if err != nil {
		resp := fail(http.StatusBadRequest, "%v", err)
		resp.Event, resp.Delivery = event, delivery
		return resp
	}
	resp := h.act(r.Context(), cfg, d)
	resp.Event, resp.Delivery = event, delivery
	if d.Route != nil {
		resp.Key = d.Route.Key
	}
	return resp
}

// act checks the sender of a routed decision and carries the route out.
func (h *Handler) act(ctx context.Context, cfg router.Config, d router.Decision) Response {
	if d.Ignored() {
		return Response{Outcome: OutcomeIgnored, Reason: string(d.Reason), Detail: d.Detail, status: http.StatusOK}
	}
	v, err := h.trust.Check(ctx, cfg, d)
	if err != nil {
		return fail(http.StatusBadGateway, "trust check: %v", err)
	}
	if !v.Allowed {
		resp := Response{Outcome: OutcomeIgnored, Reason: v.Reason, status: http.StatusOK,
			Detail: fmt.Sprintf("sender %s may not start runs on %s", d.Sender.Login, d.Repo)}
		// Closing an issue or PR is not a request to run anything: no note for that.
		if d.Route.Action != router.ActionCancelThenCleanup {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if posted, err := h.notice.Notify(cctx, d, v, cfg.Language); err != nil {
				h.log.Warnw("could not tell rejected sender", "repo", d.Repo, "number", d.Number, "sender", d.Sender.Login, "error", err)
			} else if posted {
				resp.Detail += "; told them on the issue"
			}
		}
		return resp
	}
	route := d.Route
	switch route.Action {
	case router.ActionCreate:
		return h.create(ctx, route, nil)
	case router.ActionCancel, router.ActionCancelThenCleanup:
		if h.o.Canceller == nil {
			return fail(http.StatusNotImplemented, "cancelling runs is not configured")
		}
		cancelled, err := h.o.Canceller.Cancel(ctx, route)
		if err != nil {
			return fail(http.StatusInternalServerError, "cancel runs of %s: %v", route.Key, err)
		}
		if route.Action == router.ActionCancelThenCleanup {
			return h.create(ctx, route, cancelled)
		}
		if len(cancelled) == 0 {
			return Response{Outcome: OutcomeIgnored, Reason: ReasonNoActiveRun, Detail: "no active run of " + route.Key, status: http.StatusOK}
		}
		return Response{Outcome: OutcomeCancelled, Cancelled: cancelled, status: http.StatusOK}
	case router.ActionRetry:
		if h.o.Retrier == nil {
			return fail(http.StatusNotImplemented, "retrying runs is not configured")
		}
		name, dup, err := h.o.Retrier.Retry(ctx, route)
		switch {
		case err != nil:
			return fail(http.StatusInternalServerError, "retry last failed run of %s: %v", route.Key, err)
		case name == "":
			return Response{Outcome: OutcomeIgnored, Reason: ReasonNoFailedRun, Detail: "no failed run of " + route.Key, status: http.StatusOK}
		case dup:
			return Response{Outcome: OutcomeDuplicate, Run: name, status: http.StatusOK}
		}
		return Response{Outcome: OutcomeCreated, Run: name, status: http.StatusAccepted}
	}
	return fail(http.StatusInternalServerError, "route action %q not handled", route.Action)
}

func (h *Handler) create(ctx context.Context, route *router.Route, cancelled []string) Response {
	name, dup, err := h.o.Runs.Create(ctx, route)
	if err != nil {
		resp := fail(http.StatusInternalServerError, "create %s run for %s: %v", route.Pipeline, route.Key, err)
		resp.Cancelled = cancelled
		return resp
	}
	if dup {
		return Response{Outcome: OutcomeDuplicate, Reason: "already-exists", Run: name, Cancelled: cancelled, status: http.StatusOK}
	}
	return Response{Outcome: OutcomeCreated, Run: name, Cancelled: cancelled, status: http.StatusAccepted}
}
