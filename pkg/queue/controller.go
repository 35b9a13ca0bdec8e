package queue

import (
	"context"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"knative.dev/pkg/controller"
)

// QueueKey is the one work-queue key of the queue: any change to any agentline run or slot
// Lease enqueues it, so bursts of events collapse into one look at the queue.
var QueueKey = types.NamespacedName{Name: "agentline-queue"}

// DefaultResync is how often the queue is looked at without an event (slot Leases expire
// without one).
const DefaultResync = 30 * time.Second

// NewController returns the knative controller driving r: handlers on the given informers
// (agentline's PipelineRuns, slot Leases; any may be nil) enqueue QueueKey.
func NewController(ctx context.Context, r *Reconciler, logger *zap.SugaredLogger, informers ...cache.SharedIndexInformer) *controller.Impl {
	impl := controller.NewContext(ctx, r, controller.ControllerOptions{WorkQueueName: "agentline-queue", Logger: logger, Concurrency: 1})
	enqueue := func(any) { impl.EnqueueKey(QueueKey) }
	for _, inf := range informers {
		if inf == nil {
			continue
		}
		_, _ = inf.AddEventHandler(controller.HandleAll(enqueue))
	}
	return impl
}

// Tick enqueues QueueKey every period until ctx ends.
func Tick(ctx context.Context, impl *controller.Impl, period time.Duration) {
	if period <= 0 {
		period = DefaultResync
	}
	t := time.NewTicker(period)
	defer t.Stop()
	impl.EnqueueKey(QueueKey)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			impl.EnqueueKey(QueueKey)
		}
	}
}
