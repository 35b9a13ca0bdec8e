// Command demo runs agentline's main job on the local stack (make demo, demo-review,
// demo-close; see package test/demo). Usage:
//
//	demo [run|review|close|serve]
//
// run (the default) starts `demo serve` (the GitHub fake and the scripted model) beside the
// stack when it is not running, installs agentline, and files an issue labelled [ai-dev];
// review requests changes on the agent's pull request; close merges it. With OPENAI_API_KEY set
// the agent talks to the real model instead of the scripted one.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/agentline/agentline/test/demo"
	"github.com/agentline/agentline/test/stack"
)

func main() {
	cmd := "run"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, cmd); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		var s *demo.Step
		if errors.As(err, &s) {
			fmt.Fprintf(os.Stderr, "demo: failed at step %q\n", s.Name)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, cmd string) error {
	if cmd == "serve" {
		return serve(ctx)
	}
	env, err := stack.Attach()
	if err != nil {
		return &demo.Step{Name: "stack", Err: err}
	}
	admin := "http://" + net.JoinHostPort(env.Stack.NodeIP, strconv.Itoa(env.Stack.Ports.DemoAdmin))
	if err := ensureServer(ctx, env.Stack, admin); err != nil {
		return &demo.Step{Name: "demo server", Err: err}
	}
	d := &demo.Driver{Env: env, AdminURL: admin, Out: os.Stdout, OpenAIKey: os.Getenv("OPENAI_API_KEY")}
	switch cmd {
	case "run":
		_, err = d.Run(ctx)
	case "review":
		_, err = d.Review(ctx)
	case "close":
		_, err = d.Close(ctx)
	default:
		err = fmt.Errorf("unknown command %q (run, review, close, serve)", cmd)
	}
	return err
}

// ensureServer starts `demo serve` as a process of the stack unless it answers already.
func ensureServer(ctx context.Context, c stack.Config, admin string) error {
	up := func() bool {
		resp, err := http.Get(admin + "/demo/state")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if up() {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if _, err := c.StartDetached("demo", exe, []string{"serve"}, nil); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for !up() {
		if _, ok := c.Running("demo"); !ok || time.Now().After(deadline) {
			return fmt.Errorf("demo server did not come up on %s (log: %s)", admin, c.LogFile("demo"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	fmt.Printf("✓ GitHub fake and scripted model started (log %s)\n", c.LogFile("demo"))
	return nil
}

// serve runs the demo's Server until a signal.
func serve(ctx context.Context) error {
	c, err := stack.DefaultConfig()
	if err != nil {
		return err
	}
	p := &procTB{dir: filepath.Join(c.Dir, "demo")}
	defer p.cleanup()
	if err := os.RemoveAll(p.dir); err != nil {
		return err
	}
	seed, err := stackSeed(c)
	if err != nil {
		return err
	}
	s, err := demo.NewServer(p, demo.Options{Host: c.NodeIP, GitHubPort: c.Ports.DemoGitHub, ModelPort: c.Ports.DemoModel,
		AdminPort: c.Ports.DemoAdmin, Seed: seed})
	if err != nil {
		return err
	}
	log.Printf("GitHub fake %s, model %s, admin %s", s.GH.URL, s.Model.URL, s.AdminURL)
	<-ctx.Done()
	return nil
}

// stackSeed is a random seed kept in the stack's folder: a restarted server has the same
// credentials as the Secrets installed before.
func stackSeed(c stack.Config) (string, error) {
	path := filepath.Join(c.Dir, "demo-seed")
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		return string(b), nil
	}
	buf := make([]byte, 16)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	seed := hex.EncodeToString(buf)
	return seed, os.WriteFile(path, []byte(seed), 0o600)
}

// procTB gives the GitHub fake what it needs from a test, in a long-running process.
type procTB struct {
	dir string
	mu  sync.Mutex
	fns []func()
}

func (p *procTB) Helper() {}

func (p *procTB) Fatalf(format string, args ...any) {
	p.cleanup()
	log.Fatalf(format, args...)
}

func (p *procTB) TempDir() string {
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		log.Fatal(err)
	}
	d, err := os.MkdirTemp(p.dir, "tmp-")
	if err != nil {
		log.Fatal(err)
	}
	return d
}

func (p *procTB) Cleanup(fn func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fns = append(p.fns, fn)
}

func (p *procTB) cleanup() {
	p.mu.Lock()
	fns := p.fns
	p.fns = nil
	p.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}
