package queue

import (
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// run builds a Run of repo acme/shop; at is seconds after t0.
func run(name, key, kind string, phase Phase, at int) Run {
	r := Run{Namespace: "ns", Name: name, Key: key, Kind: kind, Repo: "acme/shop", Created: t0.Add(time.Duration(at) * time.Second), Phase: phase}
	switch phase {
	case PhasePending:
		r.State, r.Outcome = StateQueued, StateQueued
	case PhaseActive:
		r.State, r.Outcome = StateRunning, StateRunning
	case PhaseDone:
		r.State, r.Outcome = StateSucceeded, StateSucceeded
	}
	return r
}

func names(rs []Run) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

func startedNames(p Plan) []string {
	out := []string{}
	for _, s := range p.Start {
		out = append(out, s.Run.Name)
	}
	return out
}

func waitingNames(p Plan) []string {
	out := []string{}
	for _, w := range p.Waiting {
		out = append(out, w.Run.Name+":"+w.Reason)
	}
	return out
}

func TestDecide(t *testing.T) {
	const k7, k8, k9 = "acme/shop#7", "acme/shop#8", "acme/shop#9"
	poolAI := Pool("acme/shop", "ai")
	tests := []struct {
		name           string
		runs           []Run
		holders        []Holder
		max            int
		wantStart      []string
		wantWait       []string
		wantSupersede  []string
		wantSlotsAIUse int
	}{
		{
			name:           "free key and free slot start",
			runs:           []Run{run("a", k7, "ai-dev", PhasePending, 1)},
			max:            4,
			wantStart:      []string{"a"},
			wantWait:       []string{},
			wantSupersede:  []string{},
			wantSlotsAIUse: 1,
		},
		{
			name:           "key busy: a cleanup waits for the cancelled run of its key",
			runs:           []Run{run("dev", k7, "ai-dev", PhaseActive, 1), run("cleanup", k7, "cleanup", PhasePending, 2)},
			max:            4,
			wantStart:      []string{},
			wantWait:       []string{"cleanup:key-busy"},
			wantSupersede:  []string{},
			wantSlotsAIUse: 1,
		},
		{
			name: "slots full: runs holding no slot wait in FIFO order, later ones behind",
			runs: []Run{
				run("r1", k7, "ai-dev", PhaseActive, 1), run("r2", k8, "ai-dev", PhaseActive, 2),
				run("w2", "acme/shop#11", "ai-dev", PhasePending, 12), run("w1", "acme/shop#10", "ai-dev", PhasePending, 11),
			},
			max:            2,
			wantStart:      []string{},
			wantWait:       []string{"w1:slots-full", "w2:behind-older-run"},
			wantSupersede:  []string{},
			wantSlotsAIUse: 2,
		},
		{
			name: "FIFO: oldest queued takes the last free slot, ties broken by name",
			runs: []Run{
				run("r1", k7, "ai-dev", PhaseActive, 1),
				run("c", "acme/shop#12", "ai-dev", PhasePending, 5), run("b", "acme/shop#11", "ai-dev", PhasePending, 5),
				run("a", "acme/shop#10", "ai-dev", PhasePending, 6),
			},
			max:            2,
			wantStart:      []string{"b"},
			wantWait:       []string{"c:slots-full", "a:behind-older-run"},
			wantSupersede:  []string{},
			wantSlotsAIUse: 2,
		},
		{
			name: "slot already held by the key (Lease) starts even when the pool is full",
			runs: []Run{
				run("other", k8, "ai-dev", PhaseActive, 1),
				run("review", k9, "ai-dev-review", PhasePending, 3),
			},
			// the Lease of issue 7 carries PR 9: the review of PR 9 works in that slot
			holders:        []Holder{{Pool: poolAI, Key: k7, Issue: 7, PR: 9}},
			max:            2,
			wantStart:      []string{"review"},
			wantWait:       []string{},
			wantSupersede:  []string{},
			wantSlotsAIUse: 2,
		},
		{
			name:           "Leases of other keys fill the pool",
			runs:           []Run{run("a", k9, "ai-dev", PhasePending, 1)},
			holders:        []Holder{{Pool: poolAI, Key: k7, Issue: 7}, {Pool: poolAI, Key: k8, Issue: 8}},
			max:            2,
			wantStart:      []string{},
			wantWait:       []string{"a:slots-full"},
			wantSupersede:  []string{},
			wantSlotsAIUse: 2,
		},
		{
			name:           "other pools and slot-free kinds are not limited",
			runs:           []Run{run("r1", k7, "ai-dev", PhaseActive, 1), run("stg", "acme/shop@main", "staging-deploy", PhasePending, 2), run("rep", k8, "ai-repair", PhasePending, 3)},
			max:            1,
			wantStart:      []string{"stg", "rep"},
			wantWait:       []string{},
			wantSupersede:  []string{},
			wantSlotsAIUse: 1,
		},
		{
			name: "supersede: newer queued run of the same key and kind replaces the older",
			runs: []Run{
				run("busy", k7, "ai-dev-review", PhaseActive, 1),
				run("old", k7, "ai-dev", PhasePending, 2), run("new", k7, "ai-dev", PhasePending, 3),
			},
			max:            4,
			wantStart:      []string{},
			wantWait:       []string{"new:key-busy"},
			wantSupersede:  []string{"old"},
			wantSlotsAIUse: 1,
		},
		{
			name:           "done runs take nothing",
			runs:           []Run{run("done", k7, "ai-dev", PhaseDone, 1), run("next", k8, "ai-dev", PhasePending, 2)},
			max:            1,
			wantStart:      []string{"next"},
			wantWait:       []string{},
			wantSupersede:  []string{},
			wantSlotsAIUse: 1,
		},
		{
			name: "one start per key per plan",
			runs: []Run{
				run("dev", k7, "ai-dev", PhasePending, 1), run("stg", k7, "staging-deploy", PhasePending, 2),
			},
			max:            4,
			wantStart:      []string{"dev"},
			wantWait:       []string{"stg:key-busy"},
			wantSupersede:  []string{},
			wantSlotsAIUse: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Decide(tc.runs, tc.holders, Limits{MaxSlots: tc.max})
			if got := startedNames(p); !reflect.DeepEqual(got, tc.wantStart) {
				t.Errorf("start = %v, want %v", got, tc.wantStart)
			}
			if got := waitingNames(p); !reflect.DeepEqual(got, tc.wantWait) {
				t.Errorf("waiting = %v, want %v", got, tc.wantWait)
			}
			if got := names(p.Supersede); !reflect.DeepEqual(got, tc.wantSupersede) {
				t.Errorf("supersede = %v, want %v", got, tc.wantSupersede)
			}
			if got := p.SlotsUsed[poolAI]; got != tc.wantSlotsAIUse {
				t.Errorf("slots used in %q = %d, want %d", poolAI, got, tc.wantSlotsAIUse)
			}
			for i, w := range p.Waiting {
				if w.Position != i+1 {
					t.Errorf("waiting %s has position %d, want %d", w.Run.Name, w.Position, i+1)
				}
			}
		})
	}
}

// TestDecideDrainsInOrder plays the queue forward: twelve issues, four slots; each round the
// started runs finish. The runs must start in creation order, four at a time.
func TestDecideDrainsInOrder(t *testing.T) {
	var all []Run
	for i := 0; i < 12; i++ {
		all = append(all, run(string(rune('a'+i)), fmt.Sprintf("acme/shop#%d", i+1), "ai-dev", PhasePending, i))
	}
	var order []string
	for round := 0; round < 3; round++ {
		p := Decide(all, nil, Limits{MaxSlots: 4})
		if len(p.Start) != 4 || len(p.Waiting) != 12-4*(round+1) {
			t.Fatalf("round %d: %d start, %d waiting", round, len(p.Start), len(p.Waiting))
		}
		started := map[string]bool{}
		for _, s := range p.Start {
			order = append(order, s.Run.Name)
			started[s.Run.Name] = true
		}
		// The started runs finish before the next round.
		for i := range all {
			if started[all[i].Name] {
				all[i].Phase, all[i].Outcome = PhaseDone, StateSucceeded
			}
		}
	}
	want := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}
	if !reflect.DeepEqual(order, want) {
		t.Fatalf("start order %v, want %v", order, want)
	}
}

func TestDecideRelabels(t *testing.T) {
	wrong := run("x", "acme/shop#1", "ai-dev", PhaseDone, 1)
	wrong.State, wrong.Outcome = StateRunning, StateFailed
	sup := run("s", "acme/shop#2", "ai-dev", PhaseDone, 2)
	sup.State, sup.Outcome = StateSuperseded, StateCancelled
	active := run("y", "acme/shop#3", "ai-dev", PhaseActive, 3)
	active.State = StateQueued // started by hand or by a controller that died before labelling
	p := Decide([]Run{wrong, sup, active}, nil, Limits{MaxSlots: 4})
	want := map[string]string{"x": StateFailed, "y": StateRunning}
	if !reflect.DeepEqual(p.Relabel, want) {
		t.Fatalf("relabel %v, want %v", p.Relabel, want)
	}
}

func TestDecideIsDeterministic(t *testing.T) {
	rs := []Run{
		run("a", "acme/shop#1", "ai-dev", PhasePending, 1), run("b", "acme/shop#2", "ai-dev", PhasePending, 1),
		run("c", "acme/shop#3", "ai-dev", PhasePending, 1), run("d", "acme/shop#1", "ai-dev", PhasePending, 2),
	}
	first := Decide(rs, nil, Limits{MaxSlots: 1})
	rev := append([]Run(nil), rs...)
	sort.Slice(rev, func(i, j int) bool { return rev[i].Name > rev[j].Name })
	second := Decide(rev, nil, Limits{MaxSlots: 1})
	if !reflect.DeepEqual(startedNames(first), startedNames(second)) || !reflect.DeepEqual(waitingNames(first), waitingNames(second)) {
		t.Fatalf("order of input changed the plan: %v/%v vs %v/%v", startedNames(first), waitingNames(first), startedNames(second), waitingNames(second))
	}
	if got := startedNames(first); !reflect.DeepEqual(got, []string{"b"}) {
		t.Fatalf("start %v: a is superseded by d, b is the oldest left", got)
	}
}
