package queue

// Wait reasons.
const (
	// WaitKeyBusy: another run of the same key is active.
	WaitKeyBusy = "key-busy"
	// WaitSlotsFull: every slot of the run's pool is held by other keys.
	WaitSlotsFull = "slots-full"
	// WaitBehind: an older run of the same pool is waiting for a slot (first in, first out).
	WaitBehind = "behind-older-run"
)

// Waiting is a queued run that may not start yet.
type Waiting struct {
	Run Run
	// Position is the 1-based place among all waiting runs, oldest first.
	Position int
	// Reason is WaitKeyBusy, WaitSlotsFull or WaitBehind.
	Reason string
}

// Started is a run the plan starts, with the pool it takes a slot of ("" when none).
type Started struct {
	Run  Run
	Pool string
}

// Plan is what the queue does now.
type Plan struct {
	// Start lists the Pending runs to start, oldest first.
	Start []Started
	// Supersede lists the Pending runs replaced by a newer queued run of the same key and
	// kind; they are cancelled.
	Supersede []Run
	// Waiting lists the Pending runs that stay queued, oldest first.
	Waiting []Waiting
	// Relabel maps run names to the agentline.dev/state they should carry (runs already
	// labelled right, and runs in Start or Supersede, are not in it).
	Relabel map[string]string
	// SlotsUsed maps each pool seen to the number of slots taken after the plan.
	SlotsUsed map[string]int
	// Active counts active runs (after the plan) by kind.
	Active map[string]int
}

// Limits bound the queue.
type Limits struct {
	// MaxSlots is the number of slots of every pool (at least 1).
	MaxSlots int
	// PoolMaxSlots overrides MaxSlots per pool (see Pool).
	PoolMaxSlots map[string]int
}

func (l Limits) max(pool string) int {
	if n, ok := l.PoolMaxSlots[pool]; ok && n > 0 {
		return n
	}
	if l.MaxSlots < 1 {
		return 1
	}
	return l.MaxSlots
}

// slotUse is one slot taken in a pool: by a Lease, or by an active run without a Lease yet.
type slotUse struct {
	holder *Holder
	key    string
}

// Decide plans the queue from every agentline run of the namespace (any order) and the live
// slot Leases. It is deterministic: the same cluster state gives the same plan.
func Decide(all []Run, holders []Holder, lim Limits) Plan {
	p := Plan{Relabel: map[string]string{}, SlotsUsed: map[string]int{}, Active: map[string]int{}}
	rs := append([]Run(nil), all...)
	SortFIFO(rs)

	// Newest queued run per (key, kind) survives; older ones are superseded.
	newest := map[[2]string]string{}
	for _, r := range rs {
		if r.Phase == PhasePending {
			newest[[2]string{r.Key, r.Kind}] = r.Name
		}
	}
	superseded := map[string]bool{}
	for _, r := range rs {
		if r.Phase == PhasePending && newest[[2]string{r.Key, r.Kind}] != r.Name {
			p.Supersede = append(p.Supersede, r)
			superseded[r.Name] = true
		}
	}

	uses := map[string][]slotUse{}
	for i := range holders {
		h := &holders[i]
		uses[h.Pool] = append(uses[h.Pool], slotUse{holder: h, key: h.Key})
	}
	busy := map[string]bool{}
	for _, r := range rs {
		if r.Phase != PhaseActive {
			continue
		}
		busy[r.Key] = true
		p.Active[r.Kind]++
		if pool := Pool(r.Repo, Env(r.Kind)); pool != "" && !heldBy(uses[pool], r) {
			uses[pool] = append(uses[pool], slotUse{key: r.Key})
		}
	}

	blocked := map[string]bool{} // pools with an older run waiting for a slot
	for _, r := range rs {
		if r.Phase != PhasePending || superseded[r.Name] {
			continue
		}
		reason := ""
		pool := Pool(r.Repo, Env(r.Kind))
		switch {
		case busy[r.Key]:
			reason = WaitKeyBusy
		case pool != "" && !heldBy(uses[pool], r):
			switch {
			case blocked[pool]:
				reason = WaitBehind
			case len(uses[pool]) >= lim.max(pool):
				reason = WaitSlotsFull
				blocked[pool] = true
			}
		}
		if reason != "" {
			p.Waiting = append(p.Waiting, Waiting{Run: r, Position: len(p.Waiting) + 1, Reason: reason})
			if r.State != StateQueued {
				p.Relabel[r.Name] = StateQueued
			}
			continue
		}
		busy[r.Key] = true
		p.Active[r.Kind]++
		if pool != "" && !heldBy(uses[pool], r) {
			uses[pool] = append(uses[pool], slotUse{key: r.Key})
		}
		p.Start = append(p.Start, Started{Run: r, Pool: pool})
	}

	for _, r := range rs {
		if r.Phase == PhasePending {
			continue
		}
		if want := r.WantState(); want != r.State {
			p.Relabel[r.Name] = want
		}
	}
	for pool, u := range uses {
		p.SlotsUsed[pool] = len(u)
	}
	return p
}

func heldBy(uses []slotUse, r Run) bool {
	for _, u := range uses {
		if u.holder != nil && u.holder.holds(r) {
			return true
		}
		if u.holder == nil && u.key == r.Key {
			return true
		}
	}
	return false
}
