package webhook

import (
	"context"
	"sync"
	"testing"

	"github.com/agentline/agentline/pkg/router"
)

func TestNotifierConcurrentOnce(t *testing.T) {
	c := &fakeCommenter{}
	n := &Notifier{Commenter: c}
	d := router.Decision{Repo: "o/r", Number: 3, Sender: router.Sender{Login: "mallory"}}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := n.Notify(context.Background(), d, Verdict{Reason: ReasonSenderNotAllowed}, "en"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := len(c.all()); got != 1 {
		t.Fatalf("%d comments, want 1", got)
	}
	// Same user, other case: still the same person.
	d.Sender.Login = "MALLORY"
	if posted, _ := n.Notify(context.Background(), d, Verdict{Reason: ReasonSenderNotAllowed}, "en"); posted {
		t.Fatal("login case made a second comment")
	}
	// No issue number (push): nothing to comment on.
	if posted, _ := n.Notify(context.Background(), router.Decision{Repo: "o/r", Sender: router.Sender{Login: "x"}}, Verdict{}, "en"); posted {
		t.Fatal("commented without an issue")
	}
}

func TestTrustStarAndRoles(t *testing.T) {
	checker := &fakeChecker{perms: map[string]string{"a": "admin", "m": "maintain", "w": "WRITE", "t": "triage"}}
	tr := &Trust{Checker: checker}
	cfg := router.DefaultConfig()
	cfg.AllowedUsers = []string{"*"}
	for user, allowed := range map[string]bool{"a": true, "m": true, "w": true, "t": false, "nobody": false} {
		v, err := tr.Check(context.Background(), cfg, router.Decision{Repo: "o/r", Sender: router.Sender{Login: user, Type: "User"}})
		if err != nil || v.Allowed != allowed {
			t.Errorf("%s: %+v %v, want allowed=%v", user, v, err, allowed)
		}
	}
	// A bot that is not allowed never passes, even with a permission.
	v, err := tr.Check(context.Background(), cfg, router.Decision{Repo: "o/r", Sender: router.Sender{Login: "x[bot]", Type: "Bot"}})
	if err != nil || v.Allowed || v.Reason != ReasonSenderNotAllowed {
		t.Fatalf("unlisted bot: %+v %v", v, err)
	}
}
