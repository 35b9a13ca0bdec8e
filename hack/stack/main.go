// Command stack starts, stops and reports agentline's local Kubernetes + Tekton stack
// (see package test/stack). Usage: stack up [--kwok]|down [--purge]|status|env
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/agentline/agentline/test/stack"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "stack:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: stack up [--kwok]|down [--purge]|status|env")
	}
	cfg, err := stack.DefaultConfig()
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	purge := fs.Bool("purge", false, "down: also delete the state folder (etcd data, certificates, logs)")
	fs.BoolVar(&cfg.Kwok, "kwok", cfg.Kwok, "up: add kwok's fake node (tainted; for tests' scripted pods and scale tests), also "+stack.EnvKwok+"=1")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "up":
		return stack.Up(ctx, cfg, os.Stdout)
	case "down":
		return stack.Down(cfg, *purge, os.Stdout)
	case "env":
		fmt.Print(stack.EnvLines(cfg))
		return nil
	case "status":
		st, err := stack.Status(ctx, cfg)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "COMPONENT\tPID\tSTATE\tDETAIL")
		down := false
		for _, s := range st {
			state := "stopped"
			switch {
			case s.Ready:
				state = "ready"
			case s.Running:
				state = "not ready"
			}
			if !s.Ready {
				down = true
			}
			pid := "-"
			if s.Running {
				pid = fmt.Sprint(s.PID)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, pid, state, s.Detail)
		}
		tw.Flush()
		if down {
			return errors.New("not every component is ready (make stack-up starts the missing ones)")
		}
		return nil
	default:
		return fmt.Errorf("unknown command %q: want up, down, status or env", args[0])
	}
}
