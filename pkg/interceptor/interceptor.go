// Package interceptor is the `agentline` Tekton Triggers ClusterInterceptor: it routes the
// GitHub event with pkg/router (the same router as the direct webhook endpoint), checks the
// sender with the webhook package's Trust (permissions cached), carries out cancel and retry
// routes itself, and returns a route that creates a run as extensions.agentline for the
// TriggerBinding `agentline-route` (see triggers/). The core `github` interceptor runs first
// and has already checked the signature.
package interceptor

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/agentline/agentline/pkg/router"
	"github.com/agentline/agentline/pkg/runs"
	"github.com/agentline/agentline/pkg/webhook"
	triggersv1 "github.com/tektoncd/triggers/pkg/apis/triggers/v1beta1"
	"github.com/tektoncd/triggers/pkg/interceptors/server"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
)

// Path is where the interceptor is served (the ClusterInterceptor's clientConfig path).
const Path = "interceptor"

// ExtensionKey is the key of the route in the response's extensions.
const ExtensionKey = "agentline"

// DefaultBudget bounds the work of one request, below Triggers' 3 s interceptor timeout.
const DefaultBudget = 2500 * time.Millisecond

// Interceptor implements Triggers' InterceptorInterface.
type Interceptor struct {
	// Config returns the current router configuration.
	Config func() router.Config
	// Trust checks senders (share it with the webhook handler so both use one cache).
	Trust *webhook.Trust
	// Notifier tells rejected senders why (optional).
	Notifier *webhook.Notifier
	// Canceller and Retrier serve /cancel, closes and /retry (optional: without them those
	// events stop with an Unimplemented status).
	Canceller webhook.Canceller
	Retrier   webhook.Retrier
	// Budget bounds each request (0: DefaultBudget).
	Budget time.Duration
	Logger *zap.SugaredLogger
	// OnOutcome, when set, is called with each answer's outcome (metrics).
	OnOutcome func(outcome string)
}

var _ triggersv1.InterceptorInterface = (*Interceptor)(nil)

// Handler serves the interceptor at /Path with Triggers' interceptor server.
func Handler(i *Interceptor) http.Handler {
	log := i.Logger
	if log == nil {
		log = zap.NewNop().Sugar()
	}
	s := &server.Server{Logger: log}
	s.RegisterInterceptor(Path, i)
	return s
}

func stop(code codes.Code, format string, args ...any) *triggersv1.InterceptorResponse {
	return &triggersv1.InterceptorResponse{Continue: false, Status: triggersv1.Status{Code: code, Message: fmt.Sprintf(format, args...)}}
}

// Process routes one event.
func (i *Interceptor) Process(ctx context.Context, req *triggersv1.InterceptorRequest) *triggersv1.InterceptorResponse {
	budget := i.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	resp, outcome := i.process(ctx, req)
	if i.OnOutcome != nil {
		i.OnOutcome(outcome)
	}
	if i.Logger != nil {
		i.Logger.Infow("interceptor", "outcome", outcome, "continue", resp.Continue, "code", resp.Status.Code.String(), "message", resp.Status.Message)
	}
	return resp
}

func (i *Interceptor) process(ctx context.Context, req *triggersv1.InterceptorRequest) (*triggersv1.InterceptorResponse, string) {
	h := http.Header(req.Header)
	event, delivery := h.Get("X-GitHub-Event"), h.Get("X-GitHub-Delivery")
	if event == "" || delivery == "" {
		return stop(codes.InvalidArgument, "missing X-GitHub-Event or X-GitHub-Delivery header"), webhook.OutcomeError
	}
	cfg := i.Config()
	d, err := router.Decide(event, delivery, []byte(req.Body), cfg)
	if err != nil {
		return stop(codes.InvalidArgument, "%v", err), webhook.OutcomeError
	}
	if d.Ignored() {
		return stop(codes.FailedPrecondition, "ignored: %s: %s", d.Reason, d.Detail), webhook.OutcomeIgnored
	}
	if i.Trust == nil {
		return stop(codes.Internal, "no trust check configured"), webhook.OutcomeError
	}
	v, err := i.Trust.Check(ctx, cfg, d)
	if err != nil {
		return stop(codes.Unavailable, "trust check: %v", err), webhook.OutcomeError
	}
	if !v.Allowed {
		if i.Notifier != nil && d.Route.Action != router.ActionCancelThenCleanup {
			if _, err := i.Notifier.Notify(ctx, d, v, cfg.Language); err != nil && i.Logger != nil {
				i.Logger.Warnw("could not tell rejected sender", "repo", d.Repo, "number", d.Number, "error", err)
			}
		}
		return stop(codes.PermissionDenied, "ignored: %s: sender %s may not start runs on %s", v.Reason, d.Sender.Login, d.Repo), webhook.OutcomeIgnored
	}
	route := d.Route
	switch route.Action {
	case router.ActionCancel, router.ActionCancelThenCleanup:
		if i.Canceller == nil {
			return stop(codes.Unimplemented, "cancelling runs is not configured"), webhook.OutcomeError
		}
		cancelled, err := i.Canceller.Cancel(ctx, route)
		if err != nil {
			return stop(codes.Internal, "cancel runs of %s: %v", route.Key, err), webhook.OutcomeError
		}
		if route.Action == router.ActionCancel {
			return stop(codes.OK, "cancelled %d run(s) of %s: %s", len(cancelled), route.Key, strings.Join(cancelled, ", ")), webhook.OutcomeCancelled
		}
	case router.ActionRetry:
		if i.Retrier == nil {
			return stop(codes.Unimplemented, "retrying runs is not configured"), webhook.OutcomeError
		}
		name, dup, err := i.Retrier.Retry(ctx, route)
		switch {
		case err != nil:
			return stop(codes.Internal, "retry last failed run of %s: %v", route.Key, err), webhook.OutcomeError
		case name == "":
			return stop(codes.FailedPrecondition, "ignored: %s: no failed run of %s", webhook.ReasonNoFailedRun, route.Key), webhook.OutcomeIgnored
		case dup:
			return stop(codes.OK, "duplicate: %s exists", name), webhook.OutcomeDuplicate
		}
		return stop(codes.OK, "created %s", name), webhook.OutcomeCreated
	}
	return &triggersv1.InterceptorResponse{Continue: true, Extensions: map[string]any{ExtensionKey: Extension(route)}}, webhook.OutcomeCreated
}

// Extension is the route as the TriggerBinding `agentline-route` reads it: pipeline,
// run-name, key, labels (repo, issue, pr, kind, delivery; empty strings when absent) and
// params (every router.ParamNames entry).
func Extension(route *router.Route) map[string]any {
	l := runs.Labels(route)
	labels := map[string]any{
		"repo": l[runs.LabelRepo], "issue": l[runs.LabelIssue], "pr": l[runs.LabelPR],
		"kind": l[runs.LabelKind], "delivery": l[runs.LabelDelivery],
	}
	params := map[string]any{}
	for _, n := range router.ParamNames {
		params[n] = route.Params[n]
	}
	return map[string]any{
		"pipeline": route.Pipeline,
		"run-name": route.RunName,
		"key":      route.Key,
		"labels":   labels,
		"params":   params,
	}
}
