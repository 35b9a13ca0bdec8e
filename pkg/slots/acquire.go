package slots

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Claim is who asks for a slot.
type Claim struct {
	// Key is the holder key, e.g. owner/repo#42; required.
	Key string
	// Issue and PR (0 = none) let a run find the slot its issue or PR already holds.
	Issue, PR int
}

func (c Claim) validate() error {
	if strings.TrimSpace(c.Key) == "" {
		return errors.New("holder key is required (e.g. owner/repo#42)")
	}
	if c.Issue < 0 || c.PR < 0 {
		return fmt.Errorf("issue and pr must not be negative (got issue %d, pr %d)", c.Issue, c.PR)
	}
	return nil
}

var keyRe = regexp.MustCompile(`^([^#\s]+/[^#\s]+)#\d+$`)

// repoOf returns the owner/repo part of a key owner/repo#N, or "" for another shape.
func repoOf(key string) string {
	if m := keyRe.FindStringSubmatch(key); m != nil {
		return strings.ToLower(m[1])
	}
	return ""
}

// sameRepo is false only when both keys name a repository and the repositories differ.
func sameRepo(a, b string) bool {
	ra, rb := repoOf(a), repoOf(b)
	return ra == "" || rb == "" || ra == rb
}

// Grant is the result of a successful acquire.
type Grant struct {
	// Slot is the slot number.
	Slot int
	// Namespace is the slot's namespace.
	Namespace string
	// Lease is the Lease name.
	Lease string
	// Holder is the Lease's holder key (the claimer's key, or the key that holds the slot for
	// the claimer's issue or PR).
	Holder string
	// Fresh is true when this call claimed the slot (new Lease or an expired one taken over).
	Fresh bool
	// Created is true when this call created the Lease.
	Created bool
	// NewEnv is true when the environment must be built: the Lease was newly created or the
	// slot's namespace does not exist.
	NewEnv bool
	// Bootstrapped is true when the Bootstrapper ran.
	Bootstrapped bool
	// Expires is the new expiry.
	Expires time.Time
}

// NoFreeSlotError is returned (wrapping ErrNoFreeSlot) when every slot is held.
type NoFreeSlotError struct {
	// Pool is project/env.
	Pool string
	// Slots is the status of every slot when the claim failed.
	Slots []SlotStatus
	now   time.Time
}

func (e *NoFreeSlotError) Error() string {
	held := 0
	for _, s := range e.Slots {
		if s.Held && !s.Expired {
			held++
		}
	}
	return fmt.Sprintf("no free slot in pool %s: %d of %d held: %s", e.Pool, held, len(e.Slots), holdersText(e.Slots, e.now))
}

// Unwrap makes errors.Is(err, ErrNoFreeSlot) true.
func (e *NoFreeSlotError) Unwrap() error { return ErrNoFreeSlot }

// maxRounds bounds re-reads after a lost race on a Lease the caller already holds.
const maxRounds = 8

// Acquire returns the slot the key (or its issue or PR) already holds, renewing it; otherwise it
// claims the lowest slot without a live Lease. AlreadyExists and Conflict mean another claimer won
// that slot and the next one is tried; any other API error fails at once. When every slot is held
// the error wraps ErrNoFreeSlot (a *NoFreeSlotError listing the holders).
func (p *Pool) Acquire(ctx context.Context, c Claim) (*Grant, error) {
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("acquire a slot of %s: %w", p, err)
	}
	for round := 0; ; round++ {
		snap, err := p.list(ctx)
		if err != nil {
			return nil, err
		}
		g, retry, err := p.tryAcquire(ctx, c, snap)
		if err != nil {
			return nil, err
		}
		if g != nil {
			return p.finish(ctx, c, g)
		}
		if !retry || round >= maxRounds {
			return nil, &NoFreeSlotError{Pool: p.String(), Slots: p.statuses(snap), now: p.cfg.Now()}
		}
	}
}

// findHeld returns the Lease held for the claim: by its key first, then its issue, then its PR.
func (p *Pool) findHeld(snap *snapshot, c Claim) *coordinationv1.Lease {
	var byIssue, byPR *coordinationv1.Lease
	for _, n := range snap.slotNumbers() {
		l := snap.slots[n]
		h := holder(l)
		if h == c.Key {
			return l
		}
		if !sameRepo(h, c.Key) {
			continue
		}
		if byIssue == nil && c.Issue > 0 && labelInt(l, LabelIssue) == c.Issue {
			byIssue = l
		}
		if byPR == nil && c.PR > 0 && labelInt(l, LabelPR) == c.PR {
			byPR = l
		}
	}
	if byIssue != nil {
		return byIssue
	}
	return byPR
}

// tryAcquire runs one round on snap. retry is true when the round lost a race (its own Lease
// changed under it, or a free slot was taken first).
func (p *Pool) tryAcquire(ctx context.Context, c Claim, snap *snapshot) (g *Grant, retry bool, err error) {
	now := p.cfg.Now()
	if l := p.findHeld(snap, c); l != nil {
		upd := l.DeepCopy()
		if holder(l) == c.Key || isExpired(l, now) && holder(l) == "" {
			upd.Spec.HolderIdentity = ptr(c.Key)
		}
		p.setClaimLabels(upd, c, false)
		upd.Spec.RenewTime = micro(now)
		upd.Spec.LeaseDurationSeconds = ptr(p.ttlSeconds())
		got, err := p.leases().Update(ctx, upd, metav1.UpdateOptions{FieldManager: fieldManager})
		switch {
		case err == nil:
			return p.grantOf(got, false, false), false, nil
		case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
			return nil, true, nil
		default:
			return nil, false, fmt.Errorf("renew lease %s/%s for %s: %w", p.cfg.SystemNamespace, l.Name, c.Key, err)
		}
	}
	lost := false
	for n := 1; n <= p.cfg.MaxSlots; n++ {
		l := snap.slots[n]
		switch {
		case l == nil:
			got, err := p.leases().Create(ctx, p.newLease(n, c, now), metav1.CreateOptions{FieldManager: fieldManager})
			if err == nil {
				return p.grantOf(got, true, true), false, nil
			}
			if isTaken(err) {
				lost = true
				continue
			}
			return nil, false, fmt.Errorf("create lease %s/%s for %s: %w", p.cfg.SystemNamespace, LeaseName(p.cfg.Project, p.cfg.Env, n), c.Key, err)
		case isExpired(l, now):
			got, err := p.leases().Update(ctx, p.takeOver(l, c, now), metav1.UpdateOptions{FieldManager: fieldManager})
			if err == nil {
				return p.grantOf(got, false, true), false, nil
			}
			if isTaken(err) || apierrors.IsNotFound(err) {
				lost = true // someone else took (or released) it first; the next round sees the result
				continue
			}
			return nil, false, fmt.Errorf("take over expired lease %s/%s for %s: %w", p.cfg.SystemNamespace, l.Name, c.Key, err)
		}
	}
	// A slot lost to another claimer makes the caller read again: the error then lists the real
	// holders, and a slot freed meanwhile is still found.
	return nil, lost, nil
}

const fieldManager = "agentline"

func (p *Pool) ttlSeconds() int32 {
	s := int32((p.cfg.TTL + time.Second - 1) / time.Second)
	return max(s, 1)
}

// setClaimLabels writes the claim's issue and PR labels; unless overwrite, existing values stay.
func (p *Pool) setClaimLabels(l *coordinationv1.Lease, c Claim, overwrite bool) {
	if l.Labels == nil {
		l.Labels = map[string]string{}
	}
	for key, v := range map[string]int{LabelIssue: c.Issue, LabelPR: c.PR} {
		switch {
		case v > 0 && (overwrite || l.Labels[key] == ""):
			l.Labels[key] = strconv.Itoa(v)
		case v == 0 && overwrite:
			delete(l.Labels, key)
		}
	}
}

func (p *Pool) baseLabels(slot int) map[string]string {
	return map[string]string{
		LabelKind: KindSlot, LabelProject: p.cfg.Project, LabelEnv: p.cfg.Env, LabelSlot: strconv.Itoa(slot),
	}
}

func (p *Pool) newLease(slot int, c Claim, now time.Time) *coordinationv1.Lease {
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name: LeaseName(p.cfg.Project, p.cfg.Env, slot), Namespace: p.cfg.SystemNamespace, Labels: p.baseLabels(slot),
		},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: ptr(c.Key), LeaseDurationSeconds: ptr(p.ttlSeconds()),
			AcquireTime: micro(now), RenewTime: micro(now), LeaseTransitions: ptr(int32(0)),
		},
	}
	p.setClaimLabels(l, c, true)
	return l
}

// takeOver is an update of expired Lease l (keeping its resourceVersion) that gives it to c.
func (p *Pool) takeOver(l *coordinationv1.Lease, c Claim, now time.Time) *coordinationv1.Lease {
	upd := l.DeepCopy()
	slot := labelInt(l, LabelSlot)
	for k, v := range p.baseLabels(slot) {
		upd.Labels[k] = v
	}
	p.setClaimLabels(upd, c, true)
	delete(upd.Annotations, AnnotationAdoptedFrom)
	var transitions int32
	if l.Spec.LeaseTransitions != nil {
		transitions = *l.Spec.LeaseTransitions
	}
	upd.Spec = coordinationv1.LeaseSpec{
		HolderIdentity: ptr(c.Key), LeaseDurationSeconds: ptr(p.ttlSeconds()),
		AcquireTime: micro(now), RenewTime: micro(now), LeaseTransitions: ptr(transitions + 1),
	}
	return upd
}

func (p *Pool) grantOf(l *coordinationv1.Lease, created, fresh bool) *Grant {
	exp, _ := expiry(l)
	return &Grant{
		Slot: labelInt(l, LabelSlot), Lease: l.Name, Holder: holder(l), Created: created, Fresh: fresh,
		NewEnv: created, Expires: exp,
	}
}

// finish settles a won claim: it gives up a duplicate slot of the same key (two concurrent
// acquires by one key keep the lower slot), resolves the namespace, reports newEnv and runs the
// Bootstrapper.
func (p *Pool) finish(ctx context.Context, c Claim, g *Grant) (*Grant, error) {
	if g.Fresh {
		if lower, err := p.dedupe(ctx, c, g); err != nil {
			return nil, err
		} else if lower != nil {
			g = lower
		}
	}
	ns, err := p.cfg.NamespaceFor(g.Slot)
	if err != nil {
		p.undo(ctx, g)
		return nil, fmt.Errorf("namespace of slot %d of %s: %w", g.Slot, p, err)
	}
	g.Namespace = ns
	exists, err := p.namespaceExists(ctx, ns)
	if err != nil {
		p.undo(ctx, g)
		return nil, err
	}
	if !exists {
		g.NewEnv = true
	}
	if p.cfg.Bootstrapper != nil && (g.Fresh || g.NewEnv) {
		if err := p.cfg.Bootstrapper.Bootstrap(ctx, g.Slot, ns); err != nil {
			p.undo(ctx, g)
			return nil, fmt.Errorf("bootstrap slot %d (namespace %s) of %s: %w", g.Slot, ns, p, err)
		}
		g.Bootstrapped = true
	}
	return g, nil
}

// dedupe handles two concurrent acquires by one key: after a fresh claim, when the key also holds a
// lower live slot, the fresh claim is released and the lower slot returned.
func (p *Pool) dedupe(ctx context.Context, c Claim, g *Grant) (*Grant, error) {
	snap, err := p.list(ctx)
	if err != nil {
		p.undo(ctx, g)
		return nil, err
	}
	now := p.cfg.Now()
	for n := 1; n < g.Slot; n++ {
		if l := snap.slots[n]; l != nil && holder(l) == c.Key && !isExpired(l, now) {
			p.undo(ctx, g)
			return p.grantOf(l, false, false), nil
		}
	}
	return nil, nil
}

// undo releases a slot this call claimed (best effort: it only deletes the Lease while it is still
// held by the same key).
func (p *Pool) undo(ctx context.Context, g *Grant) {
	if !g.Fresh {
		return
	}
	_, _ = p.Release(context.WithoutCancel(ctx), g.Holder, g.Slot)
}

func (p *Pool) namespaceExists(ctx context.Context, ns string) (bool, error) {
	got, err := p.kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check slot namespace %s: %w", ns, err)
	}
	// A terminating namespace is going away: the environment must be built again.
	return got.DeletionTimestamp == nil, nil
}
