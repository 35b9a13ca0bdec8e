package renderbench

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"sync"
	"testing"
	"time"

	"github.com/agentline/agentline/pkg/render"
	"github.com/agentline/agentline/pkg/stackfile"

	"github.com/agentline/agentline/test/shared"
)

// TestGenerate checks that generated stacks render to the expected objects.
func TestGenerate(t *testing.T) {
	for _, n := range []int{1, 50} {
		path, err := Generate(t.TempDir(), n)
		if err != nil {
			t.Fatal(err)
		}
		for env, perService := range map[string]int{"ai": 2, "dev": 3} {
			l, err := stackfile.Load(path, stackfile.LoadOptions{Env: env, Slot: 2, Environ: []string{}})
			if err != nil {
				t.Fatalf("load %d services: %v", n, err)
			}
			res, err := render.Render(l, render.Options{})
			if err != nil {
				t.Fatalf("render %d services: %v", n, err)
			}
			if got, want := len(res.Objects()), 3+perService*n; got != want {
				t.Errorf("%s, %d services: %d objects, want %d", env, n, got, want)
			}
			if len(res.Warnings) != 0 {
				t.Errorf("warnings: %v", res.Warnings)
			}
		}
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// renderBinary builds cmd/render once per test binary.
func renderBinary(b *testing.B) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "render-bench-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "render")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/agentline/agentline/cmd/render").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build cmd/render: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return binPath
}

// BenchmarkRenderTemplateProcess runs `render template` as a whole process (load, render, print)
// on shopfront and on generated stacks of 50 and 500 services; ns/service is the time per run
// divided by the number of services.
func BenchmarkRenderTemplateProcess(b *testing.B) {
	bin := renderBinary(b)
	type stack struct {
		name     string
		path     string
		services int
	}
	stacks := []stack{{"shopfront", filepath.Join(shared.Shopfront(b), "services.yaml"), 3}}
	for _, n := range []int{50, 500} {
		path, err := Generate(b.TempDir(), n)
		if err != nil {
			b.Fatal(err)
		}
		stacks = append(stacks, stack{fmt.Sprintf("services-%d", n), path, n})
	}
	for _, s := range stacks {
		b.Run(s.name, func(b *testing.B) {
			args := []string{"template", "--offline", "--config", s.path, "--env", "ai", "--slot", "2"}
			for b.Loop() {
				cmd := exec.Command(bin, args...)
				cmd.Env = []string{}
				var stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = io.Discard, &stderr
				if err := cmd.Run(); err != nil {
					b.Fatalf("render template: %v\n%s", err, stderr.String())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(s.services), "ns/service")
		})
	}
}

// BenchmarkLoadRender measures load + render in process (no process start, no printing).
func BenchmarkLoadRender(b *testing.B) {
	for _, n := range []int{50, 500} {
		path, err := Generate(b.TempDir(), n)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("services-%d", n), func(b *testing.B) {
			for b.Loop() {
				l, err := stackfile.Load(path, stackfile.LoadOptions{Env: "ai", Slot: 2, Environ: []string{}, Now: time.Unix(0, 0)})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := render.Render(l, render.Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/service")
		})
	}
}
