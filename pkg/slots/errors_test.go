package slots_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/agentline/agentline/pkg/slots"
)

var leaseGR = schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}

// failCreates makes Lease creates fail with errFor(name) (nil lets it through) and counts them.
func failCreates(kube *fake.Clientset, errFor func(name string) error) *int {
	n := new(int)
	kube.PrependReactor("create", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		*n++
		l := a.(k8stesting.CreateAction).GetObject().(*coordinationv1.Lease)
		if err := errFor(l.Name); err != nil {
			return true, nil, err
		}
		return false, nil, nil
	})
	return n
}

func TestAcquireTreatsAlreadyExistsAsTaken(t *testing.T) {
	kube := fake.NewClientset()
	failCreates(kube, func(name string) error {
		if name == "shop.ai.slot-1" { // lost the race for slot 1 between list and create
			return apierrors.NewAlreadyExists(leaseGR, name)
		}
		return nil
	})
	p := newPool(t, &cluster{kube: kube, sys: "agentline-system"}, 3)
	if g := acquire(t, p, "o/r#1", 1, 0); g.Slot != 2 {
		t.Fatalf("got slot %d, want 2 after slot 1 was taken", g.Slot)
	}
}

func TestAcquireFailsAtOnceOnOtherErrors(t *testing.T) {
	kube := fake.NewClientset()
	creates := failCreates(kube, func(name string) error {
		return apierrors.NewForbidden(leaseGR, name, errors.New("RBAC says no"))
	})
	p := newPool(t, &cluster{kube: kube, sys: "agentline-system"}, 3)
	_, err := p.Acquire(context.Background(), slots.Claim{Key: "o/r#1"})
	if err == nil || errors.Is(err, slots.ErrNoFreeSlot) || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "RBAC says no") {
		t.Fatalf("error %v, want the forbidden cause", err)
	}
	if *creates != 1 {
		t.Fatalf("%d create attempts, want 1 (no trying the next slot)", *creates)
	}
}
