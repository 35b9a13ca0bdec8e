// Package slots is a pool of numbered dev slots held through coordination.k8s.io/v1 Leases.
//
// A (project, env) pair owns slots 1..MaxSlots. A held slot is one Lease in the system namespace,
// named from project, env and slot number and labelled with agentline.dev/project, /env, /slot,
// /issue and /pr; its holderIdentity is the holder key (owner/repo#N). Claims use create, or an
// update carrying the resourceVersion the claimer read, so two claimers can never both win a slot.
// A Lease whose renewTime + leaseDurationSeconds has passed is expired and may be taken over.
// Released slots have no Lease. The package depends only on client-go: the caller supplies the
// slot namespace rule and an optional Bootstrapper.
package slots

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	coordclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
)

// Shared label names (contract between agentline packages).
const (
	LabelProject = "agentline.dev/project"
	LabelEnv     = "agentline.dev/env"
	LabelSlot    = "agentline.dev/slot"
	LabelIssue   = "agentline.dev/issue"
	LabelPR      = "agentline.dev/pr"
	LabelKind    = "agentline.dev/kind"

	// KindSlot marks a slot Lease; KindWaiter marks the Lease a waiting acquirer keeps to hold
	// its place in the queue.
	KindSlot   = "slot"
	KindWaiter = "slot-waiter"

	// AnnotationAdoptedFrom records the legacy ConfigMap (namespace/name) a Lease was adopted from.
	AnnotationAdoptedFrom = "agentline.dev/adopted-from"
)

// Defaults.
const (
	DefaultSystemNamespace = "agentline-system"
	// DefaultTTL is long because a slot stays with its issue across runs (dev, review, repair);
	// every acquire by the holder renews it.
	DefaultTTL = 48 * time.Hour
)

var (
	// ErrNoFreeSlot means every slot of the pool is held by a live Lease.
	ErrNoFreeSlot = errors.New("no free slot")
	// ErrNotHolder means the caller's key does not hold the slot it named.
	ErrNotHolder = errors.New("not the holder")
	// ErrNotHeld means no Lease matches the key (or slot) given.
	ErrNotHeld = errors.New("no slot held")
)

// Bootstrapper builds what a freshly leased slot needs (services.yaml slotBootstrapInfra).
type Bootstrapper interface {
	Bootstrap(ctx context.Context, slot int, namespace string) error
}

// Config describes one pool. Project, Env and MaxSlots are required.
type Config struct {
	// Project is the stack's project name.
	Project string
	// Env is the environment (ai, ai-repair, ...); each env is a separate pool.
	Env string
	// MaxSlots is the pool size: slots 1..MaxSlots.
	MaxSlots int
	// SystemNamespace holds the Leases; empty means DefaultSystemNamespace.
	SystemNamespace string
	// TTL is the lease duration written on acquire and renew; 0 means DefaultTTL.
	TTL time.Duration
	// NamespaceFor returns the namespace of a slot; nil means <project>-dev-<slot>.
	NamespaceFor func(slot int) (string, error)
	// Bootstrapper, when set, runs after a fresh claim or when the slot namespace is missing.
	Bootstrapper Bootstrapper
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Pool leases the slots of one (project, env) pair.
type Pool struct {
	kube kubernetes.Interface
	cfg  Config
}

// New checks cfg and returns its pool.
func New(kube kubernetes.Interface, cfg Config) (*Pool, error) {
	if kube == nil {
		return nil, errors.New("slots: nil Kubernetes client")
	}
	for field, v := range map[string]string{"project": cfg.Project, "env": cfg.Env} {
		if v == "" {
			return nil, fmt.Errorf("slots: %s is required", field)
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, fmt.Errorf("slots: %s %q is not a valid label value: %s", field, v, strings.Join(errs, "; "))
		}
	}
	if cfg.MaxSlots < 1 {
		return nil, fmt.Errorf("slots: maxSlots must be at least 1 (got %d): set maxSlots in services.yaml or --max-slots", cfg.MaxSlots)
	}
	if cfg.SystemNamespace == "" {
		cfg.SystemNamespace = DefaultSystemNamespace
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.TTL < time.Second {
		return nil, fmt.Errorf("slots: ttl must be at least 1s (got %s)", cfg.TTL)
	}
	if cfg.NamespaceFor == nil {
		project := cfg.Project
		cfg.NamespaceFor = func(slot int) (string, error) { return fmt.Sprintf("%s-dev-%d", project, slot), nil }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Pool{kube: kube, cfg: cfg}, nil
}

// Config returns the pool's configuration with defaults applied.
func (p *Pool) Config() Config { return p.cfg }

// String names the pool as project/env.
func (p *Pool) String() string { return p.cfg.Project + "/" + p.cfg.Env }

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

func dnsPart(s string) string {
	return strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

// LeaseName is the name of a slot's Lease: <project>.<env>.slot-<n>. The dots keep project and
// env apart (shop/ai-repair and shop-ai/repair differ); when either part had to be changed to be
// DNS-safe, a short hash of the original pair is appended so distinct pools never share a name.
func LeaseName(project, env string, slot int) string {
	return objectName(project, env, "slot-"+strconv.Itoa(slot))
}

func objectName(project, env, suffix string) string {
	p, e := dnsPart(project), dnsPart(env)
	if p == "" {
		p = "x"
	}
	if e == "" {
		e = "x"
	}
	name := p + "." + e + "." + suffix
	if p != project || e != env || len(name) > validation.DNS1123SubdomainMaxLength {
		sum := sha256.Sum256([]byte(project + "\x00" + env))
		h := hex.EncodeToString(sum[:4])
		if max := validation.DNS1123SubdomainMaxLength - len(suffix) - len(h) - 3; len(p)+len(e)+1 > max {
			p = strings.Trim(p[:min(len(p), max/2)], "-")
			e = strings.Trim(e[:min(len(e), max/2)], "-")
		}
		name = p + "." + e + "-" + h + "." + suffix
	}
	return name
}

// SlotStatus describes one slot of the pool.
type SlotStatus struct {
	// Slot is the slot number.
	Slot int
	// Lease is the Lease name.
	Lease string
	// Held is true when a Lease exists (it may have expired).
	Held bool
	// Holder is the holder key.
	Holder string
	// Issue and PR are the labelled issue and PR numbers (0 = none).
	Issue, PR int
	// Acquired, Renewed and Expires come from the Lease (zero when free).
	Acquired, Renewed, Expires time.Time
	// Expired is true when a Lease exists but its renewTime + leaseDurationSeconds has passed.
	Expired bool
}

// Age is how long the holder has had the slot.
func (s SlotStatus) Age(now time.Time) time.Duration {
	if s.Acquired.IsZero() {
		return 0
	}
	return now.Sub(s.Acquired)
}

func (p *Pool) selector(kind string) string {
	return fmt.Sprintf("%s=%s,%s=%s,%s=%s", LabelKind, kind, LabelProject, p.cfg.Project, LabelEnv, p.cfg.Env)
}

func (p *Pool) poolSelector() string {
	return fmt.Sprintf("%s=%s,%s=%s", LabelProject, p.cfg.Project, LabelEnv, p.cfg.Env)
}

// snapshot is one consistent read of the pool's Leases.
type snapshot struct {
	slots   map[int]*coordinationv1.Lease
	waiters []*coordinationv1.Lease
	rv      string
}

// list reads every Lease of the pool (slots and waiters) in one request.
func (p *Pool) list(ctx context.Context) (*snapshot, error) {
	ls, err := p.kube.CoordinationV1().Leases(p.cfg.SystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: p.poolSelector()})
	if err != nil {
		return nil, fmt.Errorf("list slot leases of %s in namespace %s: %w", p, p.cfg.SystemNamespace, err)
	}
	s := &snapshot{slots: map[int]*coordinationv1.Lease{}, rv: ls.ResourceVersion}
	for i := range ls.Items {
		l := &ls.Items[i]
		switch l.Labels[LabelKind] {
		case KindSlot:
			n, err := strconv.Atoi(l.Labels[LabelSlot])
			if err != nil || n < 1 || l.Name != LeaseName(p.cfg.Project, p.cfg.Env, n) {
				continue // not ours to interpret
			}
			s.slots[n] = l
		case KindWaiter:
			s.waiters = append(s.waiters, l)
		}
	}
	return s, nil
}

// slotNumbers returns the held slot numbers in ascending order.
func (s *snapshot) slotNumbers() []int {
	ns := make([]int, 0, len(s.slots))
	for n := range s.slots {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	return ns
}

func (p *Pool) leases() coordclient.LeaseInterface {
	return p.kube.CoordinationV1().Leases(p.cfg.SystemNamespace)
}

// expiry returns when l expires; ok is false when the Lease carries no usable times.
func expiry(l *coordinationv1.Lease) (time.Time, bool) {
	var t *metav1.MicroTime
	switch {
	case l.Spec.RenewTime != nil:
		t = l.Spec.RenewTime
	case l.Spec.AcquireTime != nil:
		t = l.Spec.AcquireTime
	}
	if t == nil || l.Spec.LeaseDurationSeconds == nil {
		return time.Time{}, false
	}
	return t.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second), true
}

// isExpired reports whether l may be taken over at now. A Lease without times counts as expired.
func isExpired(l *coordinationv1.Lease, now time.Time) bool {
	exp, ok := expiry(l)
	return !ok || !now.Before(exp)
}

func holder(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func labelInt(l *coordinationv1.Lease, key string) int {
	n, _ := strconv.Atoi(l.Labels[key])
	return n
}

func (p *Pool) statusOf(slot int, l *coordinationv1.Lease, now time.Time) SlotStatus {
	s := SlotStatus{Slot: slot, Lease: LeaseName(p.cfg.Project, p.cfg.Env, slot)}
	if l == nil {
		return s
	}
	s.Held, s.Holder = true, holder(l)
	s.Issue, s.PR = labelInt(l, LabelIssue), labelInt(l, LabelPR)
	if l.Spec.AcquireTime != nil {
		s.Acquired = l.Spec.AcquireTime.Time
	}
	if l.Spec.RenewTime != nil {
		s.Renewed = l.Spec.RenewTime.Time
	}
	s.Expires, _ = expiry(l)
	s.Expired = isExpired(l, now)
	return s
}

// Status lists slots 1..MaxSlots (and any held slot beyond, e.g. after maxSlots shrank).
func (p *Pool) Status(ctx context.Context) ([]SlotStatus, error) {
	snap, err := p.list(ctx)
	if err != nil {
		return nil, err
	}
	return p.statuses(snap), nil
}

func (p *Pool) statuses(snap *snapshot) []SlotStatus {
	now := p.cfg.Now()
	var out []SlotStatus
	for n := 1; n <= p.cfg.MaxSlots; n++ {
		out = append(out, p.statusOf(n, snap.slots[n], now))
	}
	for n, l := range snap.slots {
		if n > p.cfg.MaxSlots {
			out = append(out, p.statusOf(n, l, now))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slot < out[j].Slot })
	return out
}

// holdersText summarises the live holders for error messages and wait progress.
func holdersText(st []SlotStatus, now time.Time) string {
	var parts []string
	for _, s := range st {
		if !s.Held {
			continue
		}
		if s.Expired {
			parts = append(parts, fmt.Sprintf("%d=%s (expired)", s.Slot, s.Holder))
			continue
		}
		parts = append(parts, fmt.Sprintf("%d=%s (expires in %s)", s.Slot, s.Holder, s.Expires.Sub(now).Round(time.Second)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func isTaken(err error) bool { return apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) }

func ptr[T any](v T) *T { return &v }

func micro(t time.Time) *metav1.MicroTime { m := metav1.NewMicroTime(t); return &m }
