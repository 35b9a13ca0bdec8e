// Package scriptedmodel is a scripted model server that speaks the subset of the OpenAI Responses
// API the Codex CLI uses (POST /v1/responses answered as a text/event-stream). Tests run the real
// CLI against it: each request the CLI sends consumes the next Step of the script, and every
// request is recorded so tests can inspect what the agent was told.
package scriptedmodel

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Usage is the token usage reported in response.completed.
type Usage struct {
	InputTokens  int
	OutputTokens int
}

// Item is one output item of a response (a function call or an assistant message), encoded as the
// Responses API encodes it.
type Item map[string]any

// ExecCommand returns a function_call item asking the CLI to run cmd through its exec_command tool,
// in a non-login shell (login profiles of the machine can be slow) and waiting up to 30 s for the
// command to finish before the CLI reports back (it reports as soon as the command exits).
func ExecCommand(callID, cmd string) Item {
	args, _ := json.Marshal(map[string]any{"cmd": cmd, "login": false, "yield_time_ms": 30000})
	return Item{"type": "function_call", "name": "exec_command", "call_id": callID, "arguments": string(args)}
}

// Message returns an assistant message item; a response whose last item is a message ends the turn.
func Message(text string) Item {
	return Item{
		"type": "message", "role": "assistant",
		"content": []any{map[string]any{"type": "output_text", "text": text}},
	}
}

// Step is the server's answer to one request.
type Step struct {
	// Status, when non-zero, answers with this HTTP status and a JSON error body instead of a stream.
	Status int
	// Hang makes the server never answer: the request blocks until the client goes away or the
	// server is closed.
	Hang bool
	// Items are the output items streamed as response.output_item.done events.
	Items []Item
	// Usage is reported in response.completed.
	Usage Usage
}

// Request is one recorded request to /v1/responses.
type Request struct {
	Header http.Header
	Body   []byte
	// Parsed is the JSON body decoded into generic values.
	Parsed map[string]any
}

// Text returns every string found anywhere in the request body (instructions, input items, tool
// outputs), joined by newlines; tests search it for what the model was shown.
func (r Request) Text() string {
	var b strings.Builder
	collectStrings(r.Parsed, &b)
	return b.String()
}

// InputText returns the strings of the request's input items only (the conversation), without the
// CLI's own instructions and tool definitions.
func (r Request) InputText() string {
	var b strings.Builder
	collectStrings(r.Parsed["input"], &b)
	return b.String()
}

func collectStrings(v any, b *strings.Builder) {
	switch x := v.(type) {
	case string:
		b.WriteString(x)
		b.WriteByte('\n')
	case []any:
		for _, e := range x {
			collectStrings(e, b)
		}
	case map[string]any:
		for _, e := range x {
			collectStrings(e, b)
		}
	}
}

// Server is a running scripted model server. Create it with New and Close it when done.
type Server struct {
	// URL is the base URL to put in the CLI's model provider (ends in /v1).
	URL string

	srv  *httptest.Server
	done chan struct{}

	mu       sync.Mutex
	steps    []Step
	respond  func(Request) Step
	next     int
	requests []Request
	other    []string
	closed   bool
}

// New starts a server that plays steps in order, one per request to /v1/responses. Requests
// beyond the script are answered with HTTP 500 "script exhausted".
func New(steps ...Step) *Server {
	return NewWithOptions(Options{}, steps...)
}

// Options configures NewWithOptions.
type Options struct {
	// Listener to serve on instead of a fresh 127.0.0.1 port (e.g. one on the node address, for
	// the Codex CLI in a pod).
	Listener net.Listener
	// Respond, when set, answers each request instead of the fixed steps: it sees the request
	// (the conversation so far) and returns the step to play, so one server can play a session
	// per kind of run however many runs come.
	Respond func(Request) Step
}

// NewWithOptions is New with options.
func NewWithOptions(opts Options, steps ...Step) *Server {
	s := &Server{steps: steps, respond: opts.Respond, done: make(chan struct{})}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.handle))
	if opts.Listener != nil {
		s.srv.Listener.Close()
		s.srv.Listener = opts.Listener
	}
	s.srv.Start()
	s.URL = s.srv.URL + "/v1"
	return s
}

// Close unblocks hanging requests and stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	s.mu.Unlock()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Requests returns a copy of the requests received so far on /v1/responses.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// OtherRequests returns "METHOD PATH" of every request to another path (answered with 404).
func (s *Server) OtherRequests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.other...)
}

// Consumed reports how many steps of the script have been used.
func (s *Server) Consumed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/responses") {
		s.mu.Lock()
		s.other = append(s.other, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	var parsed map[string]any
	if err := json.Unmarshal(body, &parsed); err != nil {
		http.Error(w, "body is not JSON: "+err.Error(), http.StatusBadRequest)
		return
	}
	req := Request{Header: r.Header.Clone(), Body: body, Parsed: parsed}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	var step Step
	exhausted := false
	if s.respond != nil {
		s.next++
	} else if exhausted = s.next >= len(s.steps); !exhausted {
		step = s.steps[s.next]
		s.next++
	}
	n := len(s.requests)
	s.mu.Unlock()
	if s.respond != nil {
		step = s.respond(req)
	}

	switch {
	case exhausted:
		writeError(w, http.StatusInternalServerError, "script exhausted")
	case step.Hang:
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
	case step.Status != 0:
		writeError(w, step.Status, fmt.Sprintf("scripted failure %d", step.Status))
	default:
		writeStream(w, fmt.Sprintf("resp_%d", n), step)
	}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{"message": msg, "type": "server_error", "code": nil},
	})
}

func writeStream(w http.ResponseWriter, id string, step Step) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	event := func(typ string, payload map[string]any) {
		payload["type"] = typ
		data, _ := json.Marshal(payload)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, data)
	}
	event("response.created", map[string]any{"response": map[string]any{"id": id}})
	for i, it := range step.Items {
		item := map[string]any{}
		for k, v := range it {
			item[k] = v
		}
		if _, ok := item["id"]; !ok {
			item["id"] = fmt.Sprintf("%s_item_%d", id, i)
		}
		event("response.output_item.done", map[string]any{"output_index": i, "item": item})
	}
	event("response.completed", map[string]any{"response": map[string]any{
		"id": id,
		"usage": map[string]any{
			"input_tokens":          step.Usage.InputTokens,
			"input_tokens_details":  nil,
			"output_tokens":         step.Usage.OutputTokens,
			"output_tokens_details": nil,
			"total_tokens":          step.Usage.InputTokens + step.Usage.OutputTokens,
		},
	}})
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}
