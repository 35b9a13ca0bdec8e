package stack

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one component run as a detached process whose PID is recorded in the state folder.
type process struct {
	name string
	bin  string
	args []string
	env  []string
}

func (c Config) pidFile(name string) string { return c.path("pids", name+".pid") }

// LogFile is the log of a component.
func (c Config) LogFile(name string) string { return c.path("logs", name+".log") }

// runningPID returns the PID recorded for name when that process is still alive and still runs
// the same binary (a recycled PID is not ours).
func (c Config) runningPID(name string) (int, bool) {
	b, err := os.ReadFile(c.pidFile(name))
	if err != nil {
		return 0, false
	}
	fields := strings.SplitN(strings.TrimSpace(string(b)), " ", 2)
	pid, err := strconv.Atoi(fields[0])
	if err != nil || pid <= 0 {
		return 0, false
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return 0, false
	}
	exe = strings.TrimSuffix(exe, " (deleted)")
	if len(fields) == 2 && filepath.Clean(fields[1]) != filepath.Clean(exe) {
		return 0, false
	}
	if isZombie(pid) {
		return 0, false
	}
	return pid, true
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z'
}

// start launches p detached from this process (its own session), logging to its log file.
func (c Config) start(p process) (int, error) {
	if _, err := os.Stat(p.bin); err != nil {
		return 0, fmt.Errorf("%s: binary %s missing: run `make testbin`", p.name, p.bin)
	}
	for _, d := range []string{c.path("pids"), c.path("logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, err
		}
	}
	logf, err := os.OpenFile(c.LogFile(p.name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n==== %s start %s\n", time.Now().UTC().Format(time.RFC3339), p.name)
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = c.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("%s: start: %w", p.name, err)
	}
	pid := cmd.Process.Pid
	// Reap it if it dies while we still run, so liveness checks do not see a zombie.
	go func() { _ = cmd.Wait() }()
	abs, _ := filepath.Abs(p.bin)
	if err := os.WriteFile(c.pidFile(p.name), []byte(fmt.Sprintf("%d %s\n", pid, abs)), 0o644); err != nil {
		return 0, err
	}
	return pid, nil
}

// stop sends SIGTERM to the recorded process group of name, waits up to grace, then SIGKILLs.
// It only signals a PID that it recorded and that still runs the recorded binary.
func (c Config) stop(name string, grace time.Duration) (bool, error) {
	pid, ok := c.runningPID(name)
	defer os.Remove(c.pidFile(name))
	if !ok {
		return false, nil
	}
	// The process leads its own session and group (Setsid), so -pid reaches its children too.
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return true, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for i := 0; i < 100 && alive(pid); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if alive(pid) {
		return true, fmt.Errorf("%s: pid %d did not exit after SIGKILL", name, pid)
	}
	return true, nil
}

func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return !errors.Is(err, syscall.ESRCH)
	}
	return !isZombie(pid)
}

// tail returns the last n lines of a component's log.
func (c Config) tail(name string, n int) string {
	b, err := os.ReadFile(c.LogFile(name))
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// extraProcesses are processes started beside the stack (StartDetached); Down stops them first.
var extraProcesses = []string{"demo"}

// StartDetached runs bin as a process of the stack named name (one of extraProcesses): its log
// goes to LogFile(name), its PID is recorded, and Down stops it.
func (c Config) StartDetached(name, bin string, args, env []string) (int, error) {
	if !slices.Contains(extraProcesses, name) {
		return 0, fmt.Errorf("stack: %q is not a known extra process (%v)", name, extraProcesses)
	}
	return c.start(process{name: name, bin: bin, args: args, env: env})
}

// Running returns the PID of the stack's process name if it runs.
func (c Config) Running(name string) (int, bool) { return c.runningPID(name) }

// Stop stops the stack's process name (SIGTERM, then SIGKILL after grace).
func (c Config) Stop(name string, grace time.Duration) (bool, error) { return c.stop(name, grace) }
