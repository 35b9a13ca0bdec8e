package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func testConfig(t *testing.T) Config {
	t.Helper()
	dir := t.TempDir()
	return Config{Root: dir, Dir: dir, BinDir: dir, Ports: PortsFrom(40000), NodeIP: "127.0.0.1"}
}

func TestStartStopOnlyOwnProcess(t *testing.T) {
	c := testConfig(t)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	pid, err := c.start(process{name: "napper", bin: sleep, args: []string{"60"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := c.runningPID("napper"); !ok || got != pid {
		t.Fatalf("runningPID = %d,%v; want %d,true", got, ok, pid)
	}

	// A PID file naming a process that runs another binary (a recycled PID) is not ours.
	other := exec.Command(sleep, "60")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer other.Process.Kill() //nolint:errcheck
	if err := os.WriteFile(c.pidFile("foreign"), []byte(fmt.Sprintf("%d /usr/bin/not-sleep\n", other.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.runningPID("foreign"); ok {
		t.Fatal("a PID running a different binary must not count as ours")
	}
	if stopped, err := c.stop("foreign", time.Second); stopped || err != nil {
		t.Fatalf("stop(foreign) = %v, %v; want nothing stopped", stopped, err)
	}
	if !alive(other.Process.Pid) {
		t.Fatal("stop killed a process it did not start")
	}

	stopped, err := c.stop("napper", 5*time.Second)
	if err != nil || !stopped {
		t.Fatalf("stop(napper) = %v, %v", stopped, err)
	}
	if alive(pid) {
		t.Fatalf("pid %d still alive after stop", pid)
	}
	if _, err := os.Stat(c.pidFile("napper")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("pid file should be removed after stop")
	}
}

func TestStartMissingBinaryNamesMakeTarget(t *testing.T) {
	c := testConfig(t)
	_, err := c.start(process{name: "etcd", bin: c.bin("etcd")})
	if err == nil || !strings.Contains(err.Error(), "make testbin") || !strings.Contains(err.Error(), "etcd") {
		t.Fatalf("want an error naming etcd and `make testbin`, got %v", err)
	}
}

func TestWaitReadyFailsWithLastError(t *testing.T) {
	calls := 0
	comp := component{ready: func(context.Context) error { calls++; return errors.New("connection refused") }}
	err := waitReady(context.Background(), comp, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "connection refused") || calls < 2 {
		t.Fatalf("waitReady = %v after %d checks; want the last error after several checks", err, calls)
	}
}

func TestComponentErrorCarriesLogTail(t *testing.T) {
	c := testConfig(t)
	if err := os.MkdirAll(c.path("logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := 0; i < 50; i++ {
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	if err := os.WriteFile(c.LogFile("kwok"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &ComponentError{Component: "kwok", Err: errors.New("boom"), LogTail: c.tail("kwok", 5), LogFile: c.LogFile("kwok")}
	msg := e.Error()
	if !strings.Contains(msg, "kwok failed to start: boom") || !strings.Contains(msg, "line 49") || strings.Contains(msg, "line 44") {
		t.Fatalf("unexpected message:\n%s", msg)
	}
}

func TestPortsDeriveFromBase(t *testing.T) {
	p := PortsFrom(20000)
	seen := map[int]bool{}
	for _, port := range []int{p.EtcdClient, p.EtcdPeer, p.APIServer, p.Registry, p.EventListener, p.Interceptors,
		p.Kwok, p.TektonProbes, p.TektonMetrics, p.TektonProfiling, p.ELMetrics, p.ELProfiling, p.ICMetrics,
		p.ICProfiling, p.Scheduler, p.ControllerMgr} {
		if port < 20000 || port >= 20000+32 || seen[port] {
			t.Fatalf("port %d out of range or reused: %+v", port, p)
		}
		seen[port] = true
	}
}

func TestFakeResultsIsTektonTerminationMessage(t *testing.T) {
	ann := FakeResults(map[string]map[string]string{"first": {"out": `va"lue`}})
	got := ann[ResultsAnnotationPrefix+"first"]
	if got != `[{"key":"out","value":"va\"lue","type":1}]` {
		t.Fatalf("annotation = %s", got)
	}
	if FailTask("second", 3)[FailAnnotationPrefix+"second"] != "3" {
		t.Fatal("FailTask annotation")
	}
}

func TestBusyPortSeesForeignListener(t *testing.T) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	free := freePorts(t, 1)[0]
	if got := busyPort([]int{free, taken}); got != taken {
		t.Fatalf("busyPort = %d, want %d", got, taken)
	}
	if got := busyPort([]int{free}); got != 0 {
		t.Fatalf("busyPort = %d for a free port", got)
	}
}
