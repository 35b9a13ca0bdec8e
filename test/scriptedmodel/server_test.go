package scriptedmodel

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url+"/responses", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestScript(t *testing.T) {
	s := New(
		Step{Status: 503},
		Step{Items: []Item{ExecCommand("c1", "echo hi"), Message("done")}, Usage: Usage{InputTokens: 4, OutputTokens: 2}},
	)
	defer s.Close()
	if code, body := post(t, s.URL, `{"input":[{"role":"user","content":[{"type":"input_text","text":"first"}]}]}`); code != 503 || !strings.Contains(body, "scripted failure 503") {
		t.Errorf("step 1: %d %s", code, body)
	}
	code, body := post(t, s.URL, `{"instructions":"sys","input":[{"role":"user","content":[{"type":"input_text","text":"second"}]}]}`)
	if code != 200 {
		t.Fatalf("step 2: %d %s", code, body)
	}
	for _, want := range []string{"event: response.created", `"name":"exec_command"`, `\"cmd\":\"echo hi\"`, `"text":"done"`,
		"event: response.completed", `"input_tokens":4`, `"total_tokens":6`} {
		if !strings.Contains(body, want) {
			t.Errorf("stream lacks %s:\n%s", want, body)
		}
	}
	if code, body := post(t, s.URL, `{}`); code != 500 || !strings.Contains(body, "script exhausted") {
		t.Errorf("after the script: %d %s", code, body)
	}
	if code, _ := post(t, s.URL, `not json`); code != 400 {
		t.Errorf("bad body: %d", code)
	}
	if resp, err := http.Get(s.URL + "/models"); err == nil {
		resp.Body.Close()
	}
	reqs := s.Requests()
	if len(reqs) != 3 || s.Consumed() != 2 {
		t.Fatalf("%d requests recorded, %d steps consumed", len(reqs), s.Consumed())
	}
	if got := reqs[1].InputText(); !strings.Contains(got, "second") || strings.Contains(got, "first") {
		t.Errorf("InputText = %q", got)
	}
	if strings.Contains(reqs[1].InputText(), "sys") || !strings.Contains(reqs[1].Text(), "sys") {
		t.Errorf("Text/InputText mix up instructions and input")
	}
	if o := s.OtherRequests(); len(o) != 1 || o[0] != "GET /v1/models" {
		t.Errorf("other requests %v", o)
	}
}

func TestHangEndsOnClose(t *testing.T) {
	s := New(Step{Hang: true})
	done := make(chan error, 1)
	go func() {
		resp, err := http.Post(s.URL+"/responses", "application/json", strings.NewReader(`{}`))
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.Requests()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("request never arrived")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("a hanging step answered")
	case <-time.After(100 * time.Millisecond):
	}
	s.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the hanging request")
	}
}

func TestRespondAndListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewWithOptions(Options{Listener: l, Respond: func(r Request) Step {
		return Step{Items: []Item{Message("echo: " + strings.TrimSpace(r.InputText()))}}
	}})
	defer s.Close()
	if s.URL != "http://"+l.Addr().String()+"/v1" {
		t.Errorf("URL %s, want the listener's address", s.URL)
	}
	// Respond answers every request: no script to exhaust.
	for _, word := range []string{"one", "two", "three"} {
		code, body := post(t, s.URL, `{"input":[{"role":"user","content":[{"type":"input_text","text":"`+word+`"}]}]}`)
		if code != 200 || !strings.Contains(body, `"text":"echo: `) || !strings.Contains(body, word) {
			t.Errorf("%s: %d %s", word, code, body)
		}
	}
	if len(s.Requests()) != 3 {
		t.Errorf("recorded %d requests, want 3", len(s.Requests()))
	}
}
