package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Event is one line of the agent's JSON event stream (`codex exec --json`; other agents may emit
// the same shapes, see the command agent contract in doc.go).
type Event struct {
	Type     string     `json:"type"`
	ThreadID string     `json:"thread_id,omitempty"`
	Item     *EventItem `json:"item,omitempty"`
	Usage    *Usage     `json:"usage,omitempty"`
	Message  string     `json:"message,omitempty"`
	Error    *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// EventItem is the item of item.started / item.updated / item.completed events.
type EventItem struct {
	ID               string `json:"id"`
	Type             string `json:"type"`
	Text             string `json:"text,omitempty"`
	Message          string `json:"message,omitempty"`
	Command          string `json:"command,omitempty"`
	AggregatedOutput string `json:"aggregated_output,omitempty"`
	ExitCode         *int   `json:"exit_code,omitempty"`
	Status           string `json:"status,omitempty"`
	Server           string `json:"server,omitempty"`
	Tool             string `json:"tool,omitempty"`
	Query            string `json:"query,omitempty"`
	Changes          []struct {
		Path string `json:"path"`
		Kind string `json:"kind"`
	} `json:"changes,omitempty"`
}

// Usage is the token usage of turn.completed.
type Usage struct {
	InputTokens       int64 `json:"input_tokens"`
	CachedInputTokens int64 `json:"cached_input_tokens"`
	OutputTokens      int64 `json:"output_tokens"`
}

// Transcript turns the event stream into a readable log and collects the outcome.
type Transcript struct {
	// Log receives the readable log (one line per event of interest).
	Log io.Writer
	// OutputLines bounds the command output shown per command (0 = 8 lines).
	OutputLines int

	SessionID    string
	FinalMessage string
	Usage        Usage
	Commands     int
	Errors       []string
	TurnFailed   bool
	TurnDone     bool
	// PlainTail holds the end of stdout lines that were not JSON events (the final message of
	// an agent that emits no events).
	PlainTail string
}

// plainTailLimit bounds PlainTail.
const plainTailLimit = 8192

func (t *Transcript) logf(format string, args ...any) {
	if t.Log != nil {
		fmt.Fprintf(t.Log, format+"\n", args...)
	}
}

// Line handles one line of the agent's stdout: a JSON event, or plain text that is logged as is.
func (t *Transcript) Line(line string) {
	line = strings.TrimRight(line, "\r\n")
	trimmed := strings.TrimSpace(line)
	if trimmed == "" {
		return
	}
	var ev Event
	if !strings.HasPrefix(trimmed, "{") || json.Unmarshal([]byte(trimmed), &ev) != nil || ev.Type == "" {
		t.logf("%s", line)
		t.PlainTail += line + "\n"
		if n := len(t.PlainTail); n > plainTailLimit {
			t.PlainTail = t.PlainTail[n-plainTailLimit:]
		}
		return
	}
	t.Event(ev)
}

// Event handles one decoded event.
func (t *Transcript) Event(ev Event) {
	switch ev.Type {
	case "thread.started":
		t.SessionID = ev.ThreadID
		t.logf("[agent] session %s", ev.ThreadID)
	case "turn.started":
		t.logf("[agent] turn started")
	case "turn.completed":
		t.TurnDone = true
		if ev.Usage != nil {
			t.Usage = *ev.Usage
			t.logf("[agent] turn completed: %d input tokens (%d cached), %d output tokens",
				ev.Usage.InputTokens, ev.Usage.CachedInputTokens, ev.Usage.OutputTokens)
		} else {
			t.logf("[agent] turn completed")
		}
	case "turn.failed":
		t.TurnFailed = true
		msg := ev.Message
		if ev.Error != nil {
			msg = ev.Error.Message
		}
		t.Errors = append(t.Errors, msg)
		t.logf("[agent] turn failed: %s", msg)
	case "error":
		t.Errors = append(t.Errors, ev.Message)
		t.logf("[agent] error: %s", ev.Message)
	case "item.started":
		if ev.Item != nil && ev.Item.Type == "command_execution" {
			t.logf("$ %s", ev.Item.Command)
		}
	case "item.completed":
		if ev.Item != nil {
			t.item(ev.Item)
		}
	}
}

func (t *Transcript) item(it *EventItem) {
	switch it.Type {
	case "command_execution":
		t.Commands++
		code := "?"
		if it.ExitCode != nil {
			code = fmt.Sprint(*it.ExitCode)
		}
		t.logf("  -> exit %s%s", code, t.output(it.AggregatedOutput))
	case "agent_message":
		t.FinalMessage = it.Text
		t.logf("[agent] message:\n%s", indent(it.Text))
	case "reasoning":
		if it.Text != "" {
			t.logf("[agent] thinking: %s", firstLine(it.Text))
		}
	case "file_change":
		for _, c := range it.Changes {
			t.logf("[agent] file %s: %s", c.Kind, c.Path)
		}
	case "mcp_tool_call":
		t.logf("[agent] tool %s/%s: %s", it.Server, it.Tool, it.Status)
	case "web_search":
		t.logf("[agent] web search: %s", it.Query)
	case "error":
		// Item-level errors are warnings from the CLI (the turn goes on).
		t.logf("[agent] warning: %s", it.Message)
	case "todo_list":
		t.logf("[agent] updated its plan")
	default:
		t.logf("[agent] %s", it.Type)
	}
}

func (t *Transcript) output(out string) string {
	out = strings.TrimRight(out, "\n")
	if out == "" {
		return ""
	}
	max := t.OutputLines
	if max <= 0 {
		max = 8
	}
	lines := strings.Split(out, "\n")
	more := ""
	if len(lines) > max {
		more = fmt.Sprintf("\n     ... (%d more lines)", len(lines)-max)
		lines = lines[:max]
	}
	return ", output:\n     " + strings.Join(lines, "\n     ") + more
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "..."
	}
	return s
}
