package slots

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// lookup finds the Lease key holds: slot when > 0 (refusing another holder), else the lowest slot
// whose holder is key.
func (p *Pool) lookup(snap *snapshot, key string, slot int) (*coordinationv1.Lease, error) {
	if slot > 0 {
		l := snap.slots[slot]
		if l == nil {
			return nil, fmt.Errorf("slot %d of %s: %w (no lease)", slot, p, ErrNotHeld)
		}
		if h := holder(l); h != key {
			return nil, fmt.Errorf("slot %d of %s is held by %q, not %q: %w", slot, p, h, key, ErrNotHolder)
		}
		return l, nil
	}
	for _, n := range snap.slotNumbers() {
		if l := snap.slots[n]; holder(l) == key {
			return l, nil
		}
	}
	return nil, fmt.Errorf("%q in pool %s: %w", key, p, ErrNotHeld)
}

func requireKey(op, key string) error {
	if key == "" {
		return fmt.Errorf("%s: holder key is required (e.g. owner/repo#42)", op)
	}
	return nil
}

// Renew extends the Lease that key holds (slot, or any slot of key when slot is 0) by the TTL.
// Only the holder may renew; an expired Lease nobody took over yet is still the holder's.
func (p *Pool) Renew(ctx context.Context, key string, slot int) (*SlotStatus, error) {
	if err := requireKey("renew", key); err != nil {
		return nil, err
	}
	return p.modify(ctx, "renew", key, slot, func(l *coordinationv1.Lease) {
		l.Spec.RenewTime = micro(p.cfg.Now())
		l.Spec.LeaseDurationSeconds = ptr(p.ttlSeconds())
	})
}

// Link attaches PR c.PR to the slot held by c.Key or, failing that, by issue c.Issue (same
// repository), so that review runs of the PR find it.
func (p *Pool) Link(ctx context.Context, c Claim) (*SlotStatus, error) {
	if c.PR <= 0 {
		return nil, fmt.Errorf("link a PR to a slot of %s: pr number is required", p)
	}
	if c.Key == "" && c.Issue <= 0 {
		return nil, fmt.Errorf("link PR %d to a slot of %s: holder key or issue is required", c.PR, p)
	}
	for round := 0; ; round++ {
		snap, err := p.list(ctx)
		if err != nil {
			return nil, err
		}
		var l *coordinationv1.Lease
		if c.Key != "" {
			l, _ = p.lookup(snap, c.Key, 0)
		}
		if l == nil && c.Issue > 0 {
			for _, n := range snap.slotNumbers() {
				if cand := snap.slots[n]; labelInt(cand, LabelIssue) == c.Issue && sameRepo(holder(cand), c.Key) {
					l = cand
					break
				}
			}
		}
		if l == nil {
			return nil, fmt.Errorf("link PR %d: neither %q nor issue %d holds a slot in pool %s: %w", c.PR, c.Key, c.Issue, p, ErrNotHeld)
		}
		upd := l.DeepCopy()
		upd.Labels[LabelPR] = strconv.Itoa(c.PR)
		if c.Issue > 0 && upd.Labels[LabelIssue] == "" {
			upd.Labels[LabelIssue] = strconv.Itoa(c.Issue)
		}
		got, err := p.leases().Update(ctx, upd, metav1.UpdateOptions{FieldManager: fieldManager})
		if err == nil {
			st := p.statusOf(labelInt(got, LabelSlot), got, p.cfg.Now())
			return &st, nil
		}
		if (apierrors.IsConflict(err) || apierrors.IsNotFound(err)) && round < maxRounds {
			continue
		}
		return nil, fmt.Errorf("link PR %d to lease %s/%s: %w", c.PR, p.cfg.SystemNamespace, l.Name, err)
	}
}

// modify applies change to the Lease key holds and updates it, re-reading after a conflict.
func (p *Pool) modify(ctx context.Context, op, key string, slot int, change func(*coordinationv1.Lease)) (*SlotStatus, error) {
	for round := 0; ; round++ {
		snap, err := p.list(ctx)
		if err != nil {
			return nil, err
		}
		l, err := p.lookup(snap, key, slot)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		upd := l.DeepCopy()
		change(upd)
		got, err := p.leases().Update(ctx, upd, metav1.UpdateOptions{FieldManager: fieldManager})
		if err == nil {
			st := p.statusOf(labelInt(got, LabelSlot), got, p.cfg.Now())
			return &st, nil
		}
		if (apierrors.IsConflict(err) || apierrors.IsNotFound(err)) && round < maxRounds {
			continue
		}
		return nil, fmt.Errorf("%s lease %s/%s: %w", op, p.cfg.SystemNamespace, l.Name, err)
	}
}

// Release frees the slot key holds (slot, or any slot of key when slot is 0) by deleting its
// Lease. Anyone but the holder gets an error wrapping ErrNotHolder. The delete carries the
// resourceVersion that was read, so a Lease taken over in between is never deleted.
func (p *Pool) Release(ctx context.Context, key string, slot int) (*SlotStatus, error) {
	if err := requireKey("release", key); err != nil {
		return nil, err
	}
	for round := 0; ; round++ {
		snap, err := p.list(ctx)
		if err != nil {
			return nil, err
		}
		l, err := p.lookup(snap, key, slot)
		if err != nil {
			return nil, fmt.Errorf("release: %w", err)
		}
		st := p.statusOf(labelInt(l, LabelSlot), l, p.cfg.Now())
		err = p.deleteExact(ctx, l)
		if err == nil {
			return &st, nil
		}
		if (apierrors.IsConflict(err) || apierrors.IsNotFound(err)) && round < maxRounds {
			continue
		}
		return nil, fmt.Errorf("release lease %s/%s: %w", p.cfg.SystemNamespace, l.Name, err)
	}
}

// deleteExact deletes l only if it is unchanged since it was read.
func (p *Pool) deleteExact(ctx context.Context, l *coordinationv1.Lease) error {
	uid, rv := l.UID, l.ResourceVersion
	return p.leases().Delete(ctx, l.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv}})
}

// GC deletes the pool's expired Leases (and expired waiter Leases) and returns the slots it freed.
// A Lease renewed or taken over between the read and the delete is left alone.
func (p *Pool) GC(ctx context.Context) ([]SlotStatus, error) {
	snap, err := p.list(ctx)
	if err != nil {
		return nil, err
	}
	now := p.cfg.Now()
	var freed []SlotStatus
	var errs []error
	for _, n := range snap.slotNumbers() {
		l := snap.slots[n]
		if !isExpired(l, now) {
			continue
		}
		st := p.statusOf(n, l, now)
		switch err := p.deleteExact(ctx, l); {
		case err == nil:
			freed = append(freed, st)
		case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
		default:
			errs = append(errs, fmt.Errorf("gc lease %s/%s: %w", p.cfg.SystemNamespace, l.Name, err))
		}
	}
	for _, w := range snap.waiters {
		if isExpired(w, now) {
			if err := p.deleteExact(ctx, w); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("gc waiter lease %s/%s: %w", p.cfg.SystemNamespace, w.Name, err))
			}
		}
	}
	return freed, errors.Join(errs...)
}

// Holder returns the holder key and slot of the Lease claim c holds: the Lease of c.Key, else
// one of the same repository labelled with c.Issue, else with c.PR (a pull request linked to an
// issue's slot is closed under its own key). It returns an error wrapping ErrNotHeld when none.
func (p *Pool) Holder(ctx context.Context, c Claim) (string, int, error) {
	snap, err := p.list(ctx)
	if err != nil {
		return "", 0, err
	}
	l := p.findHeld(snap, c)
	if l == nil {
		return "", 0, fmt.Errorf("%q (issue %d, pr %d) in pool %s: %w", c.Key, c.Issue, c.PR, p, ErrNotHeld)
	}
	return holder(l), labelInt(l, LabelSlot), nil
}
