package slots

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// WaitOptions configure AcquireWait.
type WaitOptions struct {
	// Timeout bounds the wait; 0 means a single attempt (Acquire).
	Timeout time.Duration
	// Progress receives a line whenever the waiter's place or the holders change; nil discards.
	Progress io.Writer
	// MinBackoff and MaxBackoff bound the re-check interval used when no watch event arrives;
	// zero means 250ms and 10s.
	MinBackoff, MaxBackoff time.Duration
}

// waiterTTL is how long a waiter's place survives without renewal (a crashed waiter drops out).
const waiterTTL = 30 * time.Second

// AcquireWait is Acquire that waits up to o.Timeout when every slot is held. Waiters queue in
// arrival order: each keeps a waiter Lease (kind slot-waiter, renewed while it waits) and only
// tries to claim when its place is within the number of free slots. Between tries it watches the
// pool's Leases, so a release wakes it at once; without events it re-checks with exponential
// backoff and at the next expiry. It prints its place and the holders to o.Progress and gives up
// with an error wrapping ErrNoFreeSlot.
func (p *Pool) AcquireWait(ctx context.Context, c Claim, o WaitOptions) (*Grant, error) {
	if o.Timeout <= 0 {
		return p.Acquire(ctx, c)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("acquire a slot of %s: %w", p, err)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 250 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	o.MaxBackoff = min(o.MaxBackoff, waiterTTL/3)
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	w := &waiter{p: p, c: c, name: objectName(p.cfg.Project, p.cfg.Env, "wait-"+shortHash(c.Key))}
	defer w.leave(ctx)

	backoff := o.MinBackoff
	var lastShown, lastText string
	for {
		snap, err := p.list(wctx)
		if err != nil {
			if wctx.Err() != nil {
				return nil, p.gaveUp(ctx, o.Timeout, lastText)
			}
			return nil, err
		}
		if err := w.keep(wctx, snap); err != nil {
			if wctx.Err() != nil {
				return nil, p.gaveUp(ctx, o.Timeout, lastText)
			}
			return nil, err
		}
		now := p.cfg.Now()
		place, waiting := w.place(snap, now)
		st := p.statuses(snap)
		free := 0
		for _, s := range st[:p.cfg.MaxSlots] {
			if !s.Held || s.Expired {
				free++
			}
		}
		if p.findHeld(snap, c) != nil || place <= free {
			g, err := p.Acquire(wctx, c)
			if err == nil {
				return g, nil
			}
			if wctx.Err() != nil {
				return nil, p.gaveUp(ctx, o.Timeout, lastText)
			}
			if !errors.Is(err, ErrNoFreeSlot) {
				return nil, err
			}
			continue // lost the race for the free slot; re-read at once
		}
		lastText = fmt.Sprintf("place %d of %d waiting; holders: %s", place, waiting, holdersText(st, now))
		if shown := fmt.Sprintf("%d/%d/%v", place, waiting, holderKeys(st)); shown != lastShown {
			fmt.Fprintf(o.Progress, "waiting for a slot of %s: %s\n", p, lastText)
			lastShown = shown
		}
		next := backoff
		if t, ok := nextChange(snap, now); ok && t.Sub(now) < next {
			next = max(t.Sub(now), 0) + 10*time.Millisecond
		}
		if p.waitEvent(wctx, snap.rv, next, w.name) {
			backoff = o.MinBackoff
		} else {
			backoff = min(backoff*2, o.MaxBackoff)
		}
		if wctx.Err() != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("wait for a slot of %s: %w", p, ctx.Err())
			}
			return nil, p.gaveUp(ctx, o.Timeout, lastText)
		}
	}
}

func (p *Pool) gaveUp(ctx context.Context, d time.Duration, last string) error {
	if ctx.Err() != nil {
		return fmt.Errorf("wait for a slot of %s: %w", p, ctx.Err())
	}
	if last == "" {
		last = "no answer from the API server"
	}
	return fmt.Errorf("gave up after waiting %s for a slot of %s (%s): %w", d, p, last, ErrNoFreeSlot)
}

func holderKeys(st []SlotStatus) []string {
	var ks []string
	for _, s := range st {
		if s.Held && !s.Expired {
			ks = append(ks, s.Holder)
		}
	}
	return ks
}

// nextChange is the earliest future expiry among the pool's Leases: a slot or a place frees then
// without any watch event.
func nextChange(snap *snapshot, now time.Time) (time.Time, bool) {
	var best time.Time
	consider := func(l *coordinationv1.Lease) {
		if t, ok := expiry(l); ok && t.After(now) && (best.IsZero() || t.Before(best)) {
			best = t
		}
	}
	for _, l := range snap.slots {
		consider(l)
	}
	for _, l := range snap.waiters {
		consider(l)
	}
	return best, !best.IsZero()
}

// waitEvent watches the pool's Leases from rv until an event that may free a slot or a place
// (see mayFree), the timer d, or ctx ends. It reports whether an event arrived.
func (p *Pool) waitEvent(ctx context.Context, rv string, d time.Duration, own string) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	wi, err := p.leases().Watch(ctx, metav1.ListOptions{LabelSelector: p.poolSelector(), ResourceVersion: rv})
	if err != nil {
		select { // cannot watch (e.g. RBAC): fall back to the timer
		case <-timer.C:
		case <-ctx.Done():
		}
		return false
	}
	defer wi.Stop()
	ch := wi.ResultChan()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				ch = nil // closed by the server: keep waiting for the timer
				continue
			}
			if ev.Type == watch.Bookmark {
				continue
			}
			if l, isLease := ev.Object.(*coordinationv1.Lease); isLease && !mayFree(ev.Type, l, own) {
				continue
			}
			return true
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// mayFree tells whether an event can free a slot or move a waiter up: a slot Lease changed or
// went away, or another waiter left. New Leases and waiter renewals cannot, and waking every
// waiter for them would make each renewal cost one list per waiter.
func mayFree(t watch.EventType, l *coordinationv1.Lease, own string) bool {
	if l.Name == own {
		return false
	}
	switch l.Labels[LabelKind] {
	case KindSlot:
		return t == watch.Modified || t == watch.Deleted
	case KindWaiter:
		return t == watch.Deleted
	}
	return false
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:5])
}

// waiter is the Lease that holds a waiting claimer's place in the queue.
type waiter struct {
	p    *Pool
	c    Claim
	name string
	mine *coordinationv1.Lease
}

// keep creates the waiter Lease, or renews it when a third of its TTL has passed.
func (w *waiter) keep(ctx context.Context, snap *snapshot) error {
	p, now := w.p, w.p.cfg.Now()
	w.mine = nil
	for _, l := range snap.waiters {
		if l.Name == w.name && holder(l) == w.c.Key {
			w.mine = l
		}
	}
	switch {
	case w.mine == nil:
		l := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: w.name, Namespace: p.cfg.SystemNamespace, Labels: map[string]string{
				LabelKind: KindWaiter, LabelProject: p.cfg.Project, LabelEnv: p.cfg.Env,
			}},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity: ptr(w.c.Key), LeaseDurationSeconds: ptr(int32(waiterTTL / time.Second)),
				AcquireTime: micro(now), RenewTime: micro(now),
			},
		}
		p.setClaimLabels(l, w.c, true)
		got, err := p.leases().Create(ctx, l, metav1.CreateOptions{FieldManager: fieldManager})
		if err == nil {
			w.mine = got
			snap.waiters = append(snap.waiters, got)
			return nil
		}
		if apierrors.IsAlreadyExists(err) {
			// Left by an earlier run of the same key (or another key with the same hash): take it
			// over on the next round once it expires; until then wait at the back.
			return nil
		}
		return fmt.Errorf("create waiter lease %s/%s: %w", p.cfg.SystemNamespace, w.name, err)
	case w.mine.Spec.RenewTime == nil || now.Sub(w.mine.Spec.RenewTime.Time) >= waiterTTL/3:
		upd := w.mine.DeepCopy()
		upd.Spec.RenewTime = micro(now)
		got, err := p.leases().Update(ctx, upd, metav1.UpdateOptions{FieldManager: fieldManager})
		if err == nil {
			w.mine = got
			return nil
		}
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return nil // the next round re-reads it
		}
		return fmt.Errorf("renew waiter lease %s/%s: %w", p.cfg.SystemNamespace, w.name, err)
	}
	return nil
}

// place is the waiter's 1-based position among the live waiters (by arrival time) and their
// number, itself included.
func (w *waiter) place(snap *snapshot, now time.Time) (place, waiting int) {
	type entry struct {
		at   time.Time
		name string
	}
	var live []entry
	mineSeen := false
	for _, l := range snap.waiters {
		if isExpired(l, now) && l.Name != w.name {
			continue
		}
		var at time.Time
		if l.Spec.AcquireTime != nil {
			at = l.Spec.AcquireTime.Time
		}
		if w.mine != nil && l.Name == w.name {
			if mineSeen {
				continue
			}
			mineSeen = true
			at = w.mine.Spec.AcquireTime.Time
		}
		live = append(live, entry{at, l.Name})
	}
	sort.Slice(live, func(i, j int) bool {
		if !live[i].at.Equal(live[j].at) {
			return live[i].at.Before(live[j].at)
		}
		return live[i].name < live[j].name
	})
	if w.mine == nil {
		return len(live) + 1, len(live) + 1
	}
	for i, e := range live {
		if e.name == w.name {
			return i + 1, len(live)
		}
	}
	return len(live) + 1, len(live) + 1
}

// leave deletes the waiter Lease (best effort; it would expire anyway).
func (w *waiter) leave(ctx context.Context) {
	if w.mine == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = w.p.leases().Delete(ctx, w.name, metav1.DeleteOptions{})
}
