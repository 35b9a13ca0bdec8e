package agent

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lines collects stdout lines and signals when one containing want arrives.
type lines struct {
	mu    sync.Mutex
	all   []string
	ready chan struct{}
	want  string
	once  sync.Once
}

func newLines(want string) *lines { return &lines{ready: make(chan struct{}), want: want} }

func (l *lines) add(s string) {
	l.mu.Lock()
	l.all = append(l.all, s)
	l.mu.Unlock()
	if strings.Contains(s, l.want) {
		l.once.Do(func() { close(l.ready) })
	}
}

func (l *lines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n")
}

func waitReady(t *testing.T, l *lines) {
	t.Helper()
	select {
	case <-l.ready:
	case <-time.After(10 * time.Second):
		t.Fatalf("the script never printed %q; output:\n%s", l.want, l.text())
	}
}

func TestProcessForwardsSignalToGroup(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		l := newLines("child-ready")
		ctx, cancel := context.WithCancelCause(context.Background())
		// The child shell also traps the signal: it must reach the whole group, not only the leader.
		// The leader waits for the child after its own trap, so both messages are printed.
		script := `trap 'echo parent got INT; exit 3' INT
trap 'echo parent got TERM; wait; exit 3' TERM
sh -c 'trap "echo child got TERM; exit 0" TERM; echo child-ready; while :; do sleep 0.05; done' &
while :; do sleep 0.05; done`
		type res struct {
			out Outcome
			err error
		}
		done := make(chan res, 1)
		go func() {
			out, err := Process{Argv: []string{"bash", "-c", script}, Stdout: l.add, Grace: 5 * time.Second}.Run(ctx)
			done <- res{out, err}
		}()
		waitReady(t, l)
		cancel(SignalCause{Signal: sig})
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		if !r.out.Interrupted || r.out.Killed || r.out.ExitCode != 3 {
			t.Errorf("%s: outcome %+v, want interrupted, exit 3, not killed", sig, r.out)
		}
		name := map[syscall.Signal]string{syscall.SIGINT: "INT", syscall.SIGTERM: "TERM"}[sig]
		// Non-interactive shells start background jobs with SIGINT ignored, so only TERM can be
		// observed in the child.
		if !strings.Contains(l.text(), "parent got "+name) || (sig == syscall.SIGTERM && !strings.Contains(l.text(), "child got TERM")) {
			t.Errorf("%s not forwarded to the agent's group; output:\n%s", sig, l.text())
		}
		if err := r.out.Err(time.Minute); err == nil || !strings.Contains(err.Error(), "interrupted") {
			t.Errorf("Err() = %v", err)
		}
	}
}

func TestProcessKilledAfterGrace(t *testing.T) {
	l := newLines("ready")
	start := time.Now()
	out, err := Process{
		Argv:    []string{"bash", "-c", `trap '' TERM; echo ready; while :; do sleep 0.05; done`},
		Stdout:  l.add,
		Timeout: 500 * time.Millisecond,
		Grace:   300 * time.Millisecond,
	}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !out.TimedOut || !out.Killed || out.ExitCode != 128+int(syscall.SIGKILL) {
		t.Errorf("outcome %+v, want timed out and killed", out)
	}
	if e := out.Err(500 * time.Millisecond); e == nil || !strings.Contains(e.Error(), "did not finish within 500ms") {
		t.Errorf("Err() = %v", e)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("run took %s", d)
	}
}

func TestProcessExitCodeAndStdin(t *testing.T) {
	l := newLines("never")
	out, err := Process{Argv: []string{"sh", "-c", "read line; echo got:$line; exit 7"}, Stdin: "the prompt\n", Stdout: l.add}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if out.ExitCode != 7 || out.TimedOut || out.Interrupted || l.text() != "got:the prompt" {
		t.Errorf("outcome %+v, output %q", out, l.text())
	}
	if e := out.Err(0); e == nil || !strings.Contains(e.Error(), "exited with code 7") {
		t.Errorf("Err() = %v", e)
	}
	if _, err := (Process{Argv: []string{"/nonexistent/agent"}}).Run(context.Background()); err == nil || !strings.Contains(err.Error(), "/nonexistent/agent") {
		t.Errorf("missing binary: %v", err)
	}
}

func TestProcessLeavesNothingBehind(t *testing.T) {
	marker := "AGENTLINE_PROCESS_TEST=" + newMarker()
	// A detached, hangup-immune grandchild in a session of its own, and a plain background child;
	// the agent itself exits at once.
	script := `setsid nohup sleep 300 >/dev/null 2>&1 &
sleep 300 &
echo started`
	l := newLines("started")
	out, err := Process{Argv: []string{"bash", "-c", script}, Env: append(os.Environ(), marker), Stdout: l.add, Grace: time.Second}.Run(context.Background())
	if err != nil || out.ExitCode != 0 {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := processesWith(marker)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("left behind: %v", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processesWith lists live, non-zombie processes whose environment contains entry.
func processesWith(entry string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(env, []byte(entry)) {
			continue
		}
		stat, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
			continue
		}
		out = append(out, e.Name())
	}
	return out
}

func TestSignalContextCarriesTheSignal(t *testing.T) {
	ctx, stop := SignalContext(context.Background())
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("SIGINT did not cancel the context")
	}
	var sc SignalCause
	if cause := context.Cause(ctx); !errors.As(cause, &sc) || sc.Signal != syscall.SIGINT {
		t.Errorf("cause = %v, want SignalCause{SIGINT}", cause)
	}
}
