package agent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// DefaultGrace is how long the agent gets to exit after SIGTERM before it is killed.
const DefaultGrace = 10 * time.Second

// Process describes one agent process run.
type Process struct {
	// Argv is the program and its arguments (never a shell string).
	Argv []string
	// Dir is the working directory.
	Dir string
	// Env is the complete environment.
	Env []string
	// Stdin is fed to the process (the prompt).
	Stdin string
	// Timeout bounds the run (0 = none).
	Timeout time.Duration
	// Grace is the time between SIGTERM and SIGKILL (0 = DefaultGrace).
	Grace time.Duration
	// Stdout receives every line of standard output, in order.
	Stdout func(line string)
	// Stderr receives standard error (may be nil).
	Stderr io.Writer
}

// Outcome is how the process ended.
type Outcome struct {
	ExitCode int
	// TimedOut is set when Timeout ended the run.
	TimedOut bool
	// Interrupted is set when the context was cancelled (e.g. SIGTERM to agent-run).
	Interrupted bool
	// Killed is set when the process did not exit within the grace period and got SIGKILL.
	Killed bool
}

// Err describes a failed outcome, nil for exit code 0 without timeout or interruption.
func (o Outcome) Err(timeout time.Duration) error {
	switch {
	case o.TimedOut:
		return fmt.Errorf("the agent did not finish within %s and was stopped", timeout)
	case o.Interrupted:
		return errors.New("the agent was interrupted (agent-run received a termination signal)")
	case o.ExitCode != 0:
		return fmt.Errorf("the agent exited with code %d", o.ExitCode)
	}
	return nil
}

// Run starts the process in its own process group and waits for it. When ctx is cancelled or the
// timeout expires, the signal (SIGTERM, or the one agent-run received) goes to the whole group,
// then SIGKILL after the grace period. After the process exits, whatever is left of its group is
// killed, and so is every process still carrying the run's marker in its environment: agents such
// as Codex start commands in sessions of their own, which a group kill does not reach.
func (p Process) Run(ctx context.Context) (Outcome, error) {
	if len(p.Argv) == 0 {
		return Outcome{}, errors.New("no agent command")
	}
	grace := p.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	marker := newMarker()
	cmd := exec.Command(p.Argv[0], p.Argv[1:]...)
	cmd.Dir = p.Dir
	cmd.Env = append(append([]string(nil), p.Env...), markerVar+"="+marker)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	// Every stream is an *os.File, so Wait never waits for copying goroutines that a grandchild
	// holding a stream open would block: stdin is an unlinked temporary file, stdout and stderr
	// are pipes read here and closed by the kills below.
	stdin, err := stdinFile(p.Stdin)
	if err != nil {
		return Outcome{}, err
	}
	defer stdin.Close()
	cmd.Stdin = stdin
	outR, outW, err := os.Pipe()
	if err != nil {
		return Outcome{}, fmt.Errorf("agent stdout: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return Outcome{}, fmt.Errorf("agent stderr: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	if err := cmd.Start(); err != nil {
		for _, f := range []*os.File{outR, outW, errR, errW} {
			f.Close()
		}
		return Outcome{}, fmt.Errorf("start %s: %w", p.Argv[0], err)
	}
	outW.Close()
	errW.Close()
	pgid := cmd.Process.Pid

	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
		for sc.Scan() {
			if p.Stdout != nil {
				p.Stdout(sc.Text())
			}
		}
		_, _ = io.Copy(io.Discard, outR) // after an over-long line: drain so the agent never blocks
	}()
	go func() {
		defer readers.Done()
		w := p.Stderr
		if w == nil {
			w = io.Discard
		}
		_, _ = io.Copy(w, errR)
	}()
	readDone := make(chan struct{})
	go func() {
		readers.Wait()
		close(readDone)
	}()
	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd.Wait() }()

	var timeoutC <-chan time.Time
	if p.Timeout > 0 {
		timer := time.NewTimer(p.Timeout)
		defer timer.Stop()
		timeoutC = timer.C
	}
	var out Outcome
	var waitErr error
	select {
	case waitErr = <-waitDone:
	case <-timeoutC:
		out.TimedOut = true
		waitErr, out.Killed = terminate(pgid, syscall.SIGTERM, waitDone, grace)
	case <-ctx.Done():
		out.Interrupted = true
		sig := syscall.SIGTERM
		var sc SignalCause
		if errors.As(context.Cause(ctx), &sc) {
			sig = sc.Signal
		}
		waitErr, out.Killed = terminate(pgid, sig, waitDone, grace)
	}
	// The agent is gone; its group and the commands it started elsewhere may not be.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	killMarked(marker)
	select {
	case <-readDone:
	case <-time.After(grace):
		// Something unreachable still holds a pipe; stop reading.
	}
	outR.Close()
	errR.Close()

	var exitErr *exec.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &exitErr):
		out.ExitCode = exitErr.ExitCode()
		if out.ExitCode < 0 {
			out.ExitCode = 128 + int(syscall.SIGKILL)
			if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				out.ExitCode = 128 + int(ws.Signal())
			}
		}
	default:
		return out, fmt.Errorf("wait for %s: %w", p.Argv[0], waitErr)
	}
	return out, nil
}

// markerVar is the environment variable that marks every process of one agent run.
const markerVar = "AGENTLINE_RUN_MARKER"

func newMarker() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// stdinFile returns an unlinked temporary file holding s, positioned at its start.
func stdinFile(s string) (*os.File, error) {
	f, err := os.CreateTemp("", "agentline-prompt-*")
	if err != nil {
		return nil, fmt.Errorf("agent stdin: %w", err)
	}
	_ = os.Remove(f.Name())
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return nil, fmt.Errorf("agent stdin: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("agent stdin: %w", err)
	}
	return f, nil
}

// killMarked sends SIGKILL to every process (other than this one) whose environment carries the
// run's marker, repeating while new ones appear (a dying shell may still fork).
func killMarked(marker string) {
	needle := []byte(markerVar + "=" + marker + "\x00")
	self := os.Getpid()
	for pass := 0; pass < 5; pass++ {
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return
		}
		found := false
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == self {
				continue
			}
			env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
			if err != nil || !bytes.Contains(append(env, 0), needle) {
				continue
			}
			found = true
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if !found {
			return
		}
	}
}

// SignalCause is the cancellation cause agent-run uses when it receives a signal; Process.Run
// forwards that signal to the agent's process group (other causes send SIGTERM).
type SignalCause struct {
	Signal syscall.Signal
}

func (s SignalCause) Error() string { return "received " + s.Signal.String() }

// terminate sends sig to the group, waits up to grace, then SIGKILL.
func terminate(pgid int, sig syscall.Signal, waitDone <-chan error, grace time.Duration) (error, bool) {
	_ = syscall.Kill(-pgid, sig)
	select {
	case err := <-waitDone:
		return err, false
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return <-waitDone, true
}
