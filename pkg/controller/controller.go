// Package controller wires agentline's controller together: the `agentline-config` ConfigMap
// (watched with knative's informed watcher; changes apply without a restart), the GitHub client
// (token from a file or value, GitHub Enterprise base URL from the configuration), the webhook
// endpoint (pkg/webhook with pkg/runs), the Triggers ClusterInterceptor (pkg/interceptor), the
// queue (pkg/queue, a knative controller on agentline's PipelineRuns), the GitHub status
// reporter (pkg/status), Prometheus metrics and leader election (a Lease, as Tekton's
// controllers use: the HTTP endpoints serve on every replica, the queue and the reporter run
// on the leader only).
package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/agentline/agentline/pkg/housekeeping"
	"github.com/agentline/agentline/pkg/interceptor"
	"github.com/agentline/agentline/pkg/queue"
	"github.com/agentline/agentline/pkg/router"
	"github.com/agentline/agentline/pkg/runs"
	"github.com/agentline/agentline/pkg/slots"
	"github.com/agentline/agentline/pkg/status"
	"github.com/agentline/agentline/pkg/webhook"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/client/clientset/versioned"
	tektoninformers "github.com/tektoncd/pipeline/pkg/client/informers/externalversions"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	kubescheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	cminformer "knative.dev/pkg/configmap/informer"
	knativecontroller "knative.dev/pkg/controller"
)

// Options configure the controller. Kube and Tekton are required, and a GitHub token and a
// webhook secret (each as a value or a file).
type Options struct {
	Kube   kubernetes.Interface
	Tekton versioned.Interface
	// SystemNamespace holds the ConfigMap, the slot Leases and the leader Lease (default
	// agentline-system).
	SystemNamespace string
	// ConfigName is the ConfigMap's name (default agentline-config).
	ConfigName string
	// GitHubToken or GitHubTokenFile authenticate GitHub calls.
	GitHubToken, GitHubTokenFile string
	// WebhookSecret or WebhookSecretFile check webhook signatures.
	WebhookSecret, WebhookSecretFile string
	// LeaderElection runs the queue and the reporter only while holding the Lease
	// `agentline-controller` in SystemNamespace. Identity names this replica (default: host name).
	LeaderElection bool
	Identity       string
	// StatusInterval: see status.Reporter.Interval.
	StatusInterval time.Duration
	// Resync is how often the queue is looked at without events (default queue.DefaultResync).
	Resync time.Duration
	// HousekeepingPeriod is how often old runs are pruned and expired slots cleaned up
	// (default 1 minute).
	HousekeepingPeriod time.Duration
	Logger             *zap.SugaredLogger
}

// Controller is a configured controller; Run starts it.
type Controller struct {
	o        Options
	store    *Store
	metrics  *Metrics
	token    *secret
	hookKey  *secret
	gh       ghAdapter
	trust    *webhook.Trust
	creator  *runs.Creator
	reporter *status.Reporter
	queue    *queue.Reconciler
	webhook  http.Handler
	icept    http.Handler
	ready    atomic.Bool
	impl     atomic.Pointer[knativecontroller.Impl]
	log      *zap.SugaredLogger
}

// New checks the options and builds the controller's parts.
func New(o Options) (*Controller, error) {
	switch {
	case o.Kube == nil || o.Tekton == nil:
		return nil, errors.New("controller: Kubernetes and Tekton clients are required")
	case o.GitHubToken == "" && o.GitHubTokenFile == "":
		return nil, errors.New("controller: a GitHub token or token file is required")
	case o.WebhookSecret == "" && o.WebhookSecretFile == "":
		return nil, errors.New("controller: a webhook secret or secret file is required")
	}
	if o.SystemNamespace == "" {
		o.SystemNamespace = slots.DefaultSystemNamespace
	}
	if o.ConfigName == "" {
		o.ConfigName = DefaultConfigName
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop().Sugar()
	}
	c := &Controller{o: o, store: NewStore(), metrics: NewMetrics(), log: o.Logger,
		token: &secret{value: o.GitHubToken, file: o.GitHubTokenFile}, hookKey: &secret{value: o.WebhookSecret, file: o.WebhookSecretFile}}
	if _, err := c.token.get(); err != nil {
		return nil, fmt.Errorf("controller: GitHub token: %w", err)
	}
	if _, err := c.hookKey.get(); err != nil {
		return nil, fmt.Errorf("controller: webhook secret: %w", err)
	}
	c.gh = ghAdapter{clients: &githubClients{token: c.token, metrics: c.metrics}, config: c.store.Get}
	c.trust = &webhook.Trust{Checker: c.gh}
	c.creator = &runs.Creator{Tekton: o.Tekton, Config: func() runs.Config { return c.store.Get().Runs }}
	var err error
	c.webhook, err = webhook.New(webhook.Options{
		Secret: func() []byte {
			s, err := c.hookKey.get()
			if err != nil {
				c.log.Errorw("webhook secret unreadable", "error", err)
			}
			return []byte(s)
		},
		Config:    func() router.Config { return c.store.Get().Router },
		Trust:     c.trust,
		Commenter: c.gh,
		Runs:      c.creator, Canceller: c.creator, Retrier: c.creator,
		Logger:    o.Logger.Named("webhook"),
		OnOutcome: func(_ int, r webhook.Response) { c.metrics.Deliveries.WithLabelValues("webhook", r.Outcome).Inc() },
	})
	if err != nil {
		return nil, err
	}
	c.icept = interceptor.Handler(&interceptor.Interceptor{
		Config: func() router.Config { return c.store.Get().Router }, Trust: c.trust,
		Notifier:  &webhook.Notifier{Commenter: c.gh},
		Canceller: c.creator, Retrier: c.creator, Logger: o.Logger.Named("interceptor"),
		OnOutcome: func(outcome string) { c.metrics.Deliveries.WithLabelValues("interceptor", outcome).Inc() },
	})
	c.reporter = &status.Reporter{GitHub: c.gh, Tekton: o.Tekton, Kube: o.Kube, Interval: o.StatusInterval, Logger: o.Logger.Named("status"),
		Config: func() status.Config {
			cfg := c.store.Get()
			return status.Config{Language: cfg.Router.Language, DashboardURL: cfg.DashboardURL}
		},
		Secrets: c.secretValues,
	}
	c.queue = &queue.Reconciler{Tekton: o.Tekton, Kube: o.Kube, SlotNamespace: o.SystemNamespace, Logger: o.Logger.Named("queue"),
		Namespace: func() string { return c.store.Get().Runs.Namespace },
		Limits:    func() queue.Limits { return queue.Limits{MaxSlots: c.store.Get().MaxSlots} },
		OnPlan: func(_ string, p queue.Plan) {
			max := c.store.Get().MaxSlots
			c.metrics.ObservePlan(p, func(string) int { return max })
			c.reporter.Queue(p)
		},
	}
	return c, nil
}

func (c *Controller) secretValues() []string {
	var out []string
	for _, s := range []*secret{c.token, c.hookKey} {
		if v, err := s.get(); err == nil && v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Config returns the configuration in force.
func (c *Controller) Config() Config { return c.store.Get() }

// WebhookHandler serves GitHub webhooks.
func (c *Controller) WebhookHandler() http.Handler { return c.webhook }

// InterceptorHandler serves the ClusterInterceptor at /interceptor.
func (c *Controller) InterceptorHandler() http.Handler { return c.icept }

// MetricsHandler serves the Prometheus metrics.
func (c *Controller) MetricsHandler() http.Handler { return c.metrics.Handler() }

// Metrics returns the controller's metrics.
func (c *Controller) Metrics() *Metrics { return c.metrics }

// ProbesHandler serves /healthz (always ok) and /readyz (ok once the configuration is loaded
// and the caches are synced).
func (c *Controller) ProbesHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !c.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	return mux
}

// Ready reports whether the configuration is loaded (the endpoints are usable).
func (c *Controller) Ready() bool { return c.ready.Load() }

// Run watches the configuration and runs the queue and the reporter (under leader election
// when enabled) until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	ns := c.o.SystemNamespace
	cmw := cminformer.NewInformedWatcher(c.o.Kube, ns)
	cmw.WatchWithDefault(corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: c.o.ConfigName, Namespace: ns}}, func(cm *corev1.ConfigMap) {
		if err := c.store.Set(cm.Data); err != nil {
			c.log.Errorw("invalid configuration; keeping the previous one", "configmap", ns+"/"+c.o.ConfigName, "error", err)
			return
		}
		c.log.Infow("configuration applied", "configmap", ns+"/"+c.o.ConfigName, "generation", c.store.Generation())
		if impl := c.impl.Load(); impl != nil {
			impl.EnqueueKey(queue.QueueKey) // new limits apply now
		}
	})
	if err := cmw.Start(ctx.Done()); err != nil {
		return fmt.Errorf("controller: watch ConfigMap %s/%s: %w", ns, c.o.ConfigName, err)
	}
	c.ready.Store(true)
	if !c.o.LeaderElection {
		return c.lead(ctx)
	}
	id := c.o.Identity
	if id == "" {
		id, _ = os.Hostname()
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: "agentline-controller", Namespace: ns},
		Client:     c.o.Kube.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	errc := make(chan error, 1)
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock: lock, ReleaseOnCancel: true, Name: "agentline-controller",
		LeaseDuration: 30 * time.Second, RenewDeadline: 20 * time.Second, RetryPeriod: 4 * time.Second,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) { errc <- c.lead(ctx) },
			OnStoppedLeading: func() { c.log.Infow("leadership lost", "identity", id) },
		},
	})
	select {
	case err := <-errc:
		return err
	default:
		return ctx.Err()
	}
}

// lead runs the informers, the queue and the reporter until ctx ends.
func (c *Controller) lead(ctx context.Context) error {
	runNS := c.store.Get().Runs.Namespace
	tf := tektoninformers.NewSharedInformerFactoryWithOptions(c.o.Tekton, 10*time.Minute,
		tektoninformers.WithNamespace(runNS),
		tektoninformers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = queue.Selector }))
	prs := tf.Tekton().V1().PipelineRuns().Informer()
	kf := kubeinformers.NewSharedInformerFactoryWithOptions(c.o.Kube, 10*time.Minute, kubeinformers.WithNamespace(c.o.SystemNamespace),
		kubeinformers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = slots.LabelKind + "=" + slots.KindSlot }))
	leases := kf.Coordination().V1().Leases().Informer()

	_, err := prs.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			pr, ok := obj.(*v1.PipelineRun)
			if !ok {
				return
			}
			// After a restart, long-finished runs have been reported already.
			if pr.IsDone() && pr.Status.CompletionTime != nil && time.Since(pr.Status.CompletionTime.Time) > 10*time.Minute {
				return
			}
			c.reporter.Observe(pr)
		},
		UpdateFunc: func(old, obj any) {
			pr, ok := obj.(*v1.PipelineRun)
			o, _ := old.(*v1.PipelineRun)
			if !ok || o == nil || (o.ResourceVersion != "" && o.ResourceVersion == pr.ResourceVersion) {
				return // a periodic resync: nothing changed
			}
			c.reporter.Observe(pr)
			if !o.IsDone() && pr.IsDone() {
				c.metrics.ObserveFinished(pr)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("controller: PipelineRun handler: %w", err)
	}
	events := record.NewBroadcaster()
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.o.Kube.CoreV1().Events("")})
	defer events.Shutdown()
	c.queue.Recorder = events.NewRecorder(kubescheme.Scheme, corev1.EventSource{Component: "agentline-controller"})
	impl := queue.NewController(ctx, c.queue, c.log.Named("queue"), prs, leases)
	c.impl.Store(impl)
	tf.Start(ctx.Done())
	kf.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), prs.HasSynced, leases.HasSynced) {
		return fmt.Errorf("controller: informer caches of %s did not sync", runNS)
	}
	c.log.Infow("leading", "runNamespace", runNS, "systemNamespace", c.o.SystemNamespace)
	go c.reporter.Run(ctx)
	go c.housekeeping(ctx)
	go queue.Tick(ctx, impl, c.o.Resync)
	return impl.RunContext(ctx, 1)
}

func (c *Controller) housekeeping(ctx context.Context) {
	k := &housekeeping.Keeper{Tekton: c.o.Tekton, Kube: c.o.Kube, SlotNamespace: c.o.SystemNamespace, Creator: c.creator,
		Namespace: func() string { return c.store.Get().Runs.Namespace },
		Keep:      func() int { return c.store.Get().KeepRuns },
		Language:  func() string { return c.store.Get().Router.Language },
	}
	period := c.o.HousekeepingPeriod
	if period <= 0 {
		period = time.Minute
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rep, err := k.Pass(ctx)
		if err != nil && ctx.Err() == nil {
			c.log.Warnw("housekeeping", "error", err)
		}
		if len(rep.Deleted)+len(rep.Cleanups) > 0 {
			c.log.Infow("housekeeping", "deleted", rep.Deleted, "cleanups", rep.Cleanups)
		}
	}
}
