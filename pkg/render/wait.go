package render

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ErrWaitTimeout is wrapped by the error WaitReady returns when objects are still not ready.
var ErrWaitTimeout = errors.New("objects not ready in time")

// errFailed marks a terminal failure (a failed Job) that no waiting fixes.
var errFailed = errors.New("failed")

// WaitReady polls until every object is ready (Deployments available and rolled out,
// StatefulSets with all replicas ready, Jobs complete). It returns the descriptions of the
// objects still not ready, with their conditions, and an error wrapping ErrWaitTimeout on
// timeout (or naming a failed Job at once).
func (c *Cluster) WaitReady(ctx context.Context, refs []ObjectRef, timeout, poll time.Duration) ([]string, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	deadline := time.Now().Add(timeout)
	pending := append([]ObjectRef(nil), refs...)
	var reasons map[ObjectRef]string
	for {
		reasons = map[ObjectRef]string{}
		var still []ObjectRef
		for _, r := range pending {
			ready, reason, err := c.objectReady(ctx, r)
			if err != nil {
				return []string{fmt.Sprintf("%s: %s", r, reason)}, fmt.Errorf("%s: %w", r, err)
			}
			if !ready {
				still = append(still, r)
				reasons[r] = reason
			}
		}
		pending = still
		if len(pending) == 0 {
			return nil, nil
		}
		if !time.Now().Before(deadline) {
			break
		}
		t := time.NewTimer(min(poll, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return describe(pending, reasons), ctx.Err()
		case <-t.C:
		}
	}
	desc := describe(pending, reasons)
	return desc, fmt.Errorf("%w after %s: %s", ErrWaitTimeout, timeout, strings.Join(desc, "; "))
}

func describe(refs []ObjectRef, reasons map[ObjectRef]string) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, fmt.Sprintf("%s: %s", r, reasons[r]))
	}
	sort.Strings(out)
	return out
}

func (c *Cluster) objectReady(ctx context.Context, r ObjectRef) (bool, string, error) {
	ri, _, err := c.resource(r.GVK, r.Namespace)
	if err != nil {
		return false, err.Error(), nil
	}
	o, err := ri.Get(ctx, r.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, "not found", nil
	}
	if err != nil {
		return false, err.Error(), nil
	}
	ready, reason, failed := Readiness(o)
	if failed {
		return false, reason, fmt.Errorf("%w: %s", errFailed, reason)
	}
	return ready, reason, nil
}

// Readiness tells whether a Deployment, StatefulSet or Job is ready; reason explains why not
// (with the object's conditions); failed is true for a failed Job. Other kinds are ready.
func Readiness(o *unstructured.Unstructured) (ready bool, reason string, failed bool) {
	gen := o.GetGeneration()
	observed, _, _ := unstructured.NestedInt64(o.Object, "status", "observedGeneration")
	replicas, found, _ := unstructured.NestedInt64(o.Object, "spec", "replicas")
	if !found {
		replicas = 1
	}
	count := func(f string) int64 { v, _, _ := unstructured.NestedInt64(o.Object, "status", f); return v }
	switch o.GetKind() {
	case "Deployment":
		if observed < gen {
			return false, "rollout not observed yet" + conditionsText(o), false
		}
		if st, why := conditionStatus(o, "Progressing"); st == "False" {
			return false, "Progressing=False (" + why + ")" + conditionsText(o), false
		}
		updated, avail := count("updatedReplicas"), count("availableReplicas")
		if st, _ := conditionStatus(o, "Available"); st != "True" || updated < replicas || avail < replicas {
			return false, fmt.Sprintf("%d/%d replicas available, %d updated", avail, replicas, updated) + conditionsText(o), false
		}
		return true, "", false
	case "StatefulSet":
		if observed < gen {
			return false, "rollout not observed yet" + conditionsText(o), false
		}
		if rdy := count("readyReplicas"); rdy < replicas {
			return false, fmt.Sprintf("%d/%d replicas ready", rdy, replicas) + conditionsText(o), false
		}
		return true, "", false
	case "Job":
		if conditionTrue(o, "Failed") {
			_, why := conditionStatus(o, "Failed")
			return false, "Job failed (" + why + ")", true
		}
		if conditionTrue(o, "Complete") {
			return true, "", false
		}
		return false, fmt.Sprintf("not complete (%d active, %d succeeded)", count("active"), count("succeeded")) + conditionsText(o), false
	}
	return true, "", false
}

// conditionsText formats status.conditions as "; conditions: Type=Status (Reason: message), ...".
func conditionsText(o *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	var parts []string
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		s := fmt.Sprintf("%v=%v", m["type"], m["status"])
		reason, _ := m["reason"].(string)
		msg, _ := m["message"].(string)
		if reason != "" || msg != "" {
			s += " (" + strings.TrimSpace(strings.TrimSuffix(reason+": "+msg, ": ")) + ")"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "; no conditions"
	}
	return "; conditions: " + strings.Join(parts, ", ")
}
