package render

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
)

func obj(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	objs, err := DecodeManifests("t", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return objs[0]
}

func TestReadiness(t *testing.T) {
	cases := []struct {
		name, yaml   string
		ready, fail  bool
		reasonSubstr string
	}{
		{"deployment ready", `apiVersion: apps/v1
kind: Deployment
metadata: {name: d, generation: 2}
spec: {replicas: 2}
status: {observedGeneration: 2, updatedReplicas: 2, availableReplicas: 2, conditions: [{type: Available, status: "True"}]}
`, true, false, ""},
		{"deployment not observed", `apiVersion: apps/v1
kind: Deployment
metadata: {name: d, generation: 3}
status: {observedGeneration: 2}
`, false, false, "not observed"},
		{"deployment unavailable names condition", `apiVersion: apps/v1
kind: Deployment
metadata: {name: d, generation: 1}
status: {observedGeneration: 1, conditions: [{type: Available, status: "False", reason: MinimumReplicasUnavailable, message: no pods}]}
`, false, false, "Available=False (MinimumReplicasUnavailable: no pods)"},
		{"deployment default replicas", `apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
status: {updatedReplicas: 1, availableReplicas: 1, conditions: [{type: Available, status: "True"}]}
`, true, false, ""},
		{"deployment progress deadline", `apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
status: {conditions: [{type: Progressing, status: "False", reason: ProgressDeadlineExceeded}]}
`, false, false, "ProgressDeadlineExceeded"},
		{"statefulset ready", `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: s}
spec: {replicas: 1}
status: {readyReplicas: 1}
`, true, false, ""},
		{"statefulset not ready", `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: s}
spec: {replicas: 3}
status: {readyReplicas: 1}
`, false, false, "1/3 replicas ready; no conditions"},
		{"job complete", `apiVersion: batch/v1
kind: Job
metadata: {name: j}
status: {conditions: [{type: Complete, status: "True"}]}
`, true, false, ""},
		{"job failed", `apiVersion: batch/v1
kind: Job
metadata: {name: j}
status: {conditions: [{type: Failed, status: "True", reason: BackoffLimitExceeded}]}
`, false, true, "BackoffLimitExceeded"},
		{"job running", `apiVersion: batch/v1
kind: Job
metadata: {name: j}
status: {active: 1}
`, false, false, "1 active"},
		{"other kinds are ready", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", true, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ready, reason, failed := Readiness(obj(t, tc.yaml))
			if ready != tc.ready || failed != tc.fail || !strings.Contains(reason, tc.reasonSubstr) {
				t.Errorf("Readiness = %v, %q, %v; want %v, ~%q, %v", ready, reason, failed, tc.ready, tc.reasonSubstr, tc.fail)
			}
		})
	}
}

func TestWaitConditionStatefulSetReady(t *testing.T) {
	// kubectl.wait condition Ready on a StatefulSet (which has no conditions) uses readiness.
	o := obj(t, "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nstatus: {readyReplicas: 1}\n")
	if ok, why := waitCondition(o, "Ready"); !ok {
		t.Errorf("waitCondition = false (%s)", why)
	}
	o = obj(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus: {conditions: [{type: Ready, status: \"False\", reason: X}]}\n")
	if ok, why := waitCondition(o, "Ready"); ok || !strings.Contains(why, "Ready=False") {
		t.Errorf("waitCondition = %v (%s)", ok, why)
	}
	o = obj(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
	if ok, why := waitCondition(o, "Initialized"); ok || !strings.Contains(why, "no condition Initialized") {
		t.Errorf("waitCondition = %v (%s)", ok, why)
	}
}

func TestRetryTransient(t *testing.T) {
	gr := schema.GroupResource{Resource: "deployments"}
	b := wait.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 4}
	cases := []struct {
		name      string
		errs      []error
		wantCalls int
		wantErr   string
	}{
		{"conflict then ok", []error{apierrors.NewConflict(gr, "x", errors.New("c")), nil}, 2, ""},
		{"throttled then ok", []error{apierrors.NewTooManyRequests("slow down", 1), nil}, 2, ""},
		{"webhook not ready", []error{apierrors.NewInternalError(errors.New(`failed calling webhook "x": connection refused`)), nil}, 2, ""},
		{"unknown kind after CRD", []error{&meta.NoKindMatchError{GroupKind: schema.GroupKind{Kind: "X"}}, nil}, 2, ""},
		{"invalid fails at once", []error{apierrors.NewBadRequest("bad field")}, 1, "bad field"},
		{"forbidden fails at once", []error{apierrors.NewForbidden(gr, "x", errors.New("no"))}, 1, "forbidden"},
		{"gives up", []error{apierrors.NewServiceUnavailable("a"), apierrors.NewServiceUnavailable("b"), apierrors.NewServiceUnavailable("c"), apierrors.NewServiceUnavailable("d"), nil}, 4, "still failing after retries"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := retryTransient(context.Background(), b, func() error {
				e := tc.errs[calls]
				calls++
				return e
			})
			if calls != tc.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tc.wantCalls)
			}
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestLabelsAndSelector(t *testing.T) {
	path := writeFiles(t, map[string]string{"services.yaml": "project: shop\n"})
	slot := load(t, path, "ai", 2)
	if got := Selector(slot); got != "agentline.dev/project=shop,agentline.dev/env=ai,agentline.dev/slot=2" {
		t.Errorf("slot selector = %q", got)
	}
	if l := Labels(slot); len(l) != 3 || l[LabelSlot] != "2" {
		t.Errorf("slot labels = %v", l)
	}
	staging := load(t, path, "ai-staging", 0)
	if got := Selector(staging); got != "agentline.dev/project=shop,agentline.dev/env=ai-staging,!agentline.dev/slot" {
		t.Errorf("staging selector = %q", got)
	}
	if l := Labels(staging); len(l) != 2 {
		t.Errorf("staging labels = %v", l)
	}
}
