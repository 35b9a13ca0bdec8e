package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseCommand(t *testing.T) {
	cases := map[string][]string{
		`my-agent run -`:                 {"my-agent", "run", "-"},
		`  a  'two words' "x y" z\ z  `:  {"a", "two words", "x y", "z z"},
		`a "it's" 'say "hi"' ''`:         {"a", "it's", `say "hi"`, ""},
		`a $HOME;rm -rf / && echo $(id)`: {"a", "$HOME;rm", "-rf", "/", "&&", "echo", "$(id)"},
	}
	for in, want := range cases {
		got, err := ParseCommand(in)
		if err != nil || !reflect.DeepEqual(got.Args, want) {
			t.Errorf("ParseCommand(%q) = %q, %v; want %q", in, got.Args, err, want)
		}
	}
	for _, bad := range []string{"", "   ", `a 'open`, `a \`} {
		if _, err := ParseCommand(bad); err == nil {
			t.Errorf("ParseCommand(%q): no error", bad)
		}
	}
}

func TestCodexArgv(t *testing.T) {
	c := Codex{Binary: "/bin/codex"}
	got := c.Argv(Spec{LastMessageFile: "/r/last.txt"})
	want := []string{"/bin/codex", "exec", "--json", "--skip-git-repo-check", "--output-last-message", "/r/last.txt", "-"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("new session argv %q", got)
	}
	got = c.Argv(Spec{SessionID: "0199-abc"})
	want = []string{"/bin/codex", "exec", "resume", "--json", "--skip-git-repo-check", "0199-abc", "-"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("resume argv %q", got)
	}
}

// TestExecuteCommandAgent runs a scripted agent following the --agent command contract.
func TestExecuteCommandAgent(t *testing.T) {
	dir := t.TempDir()
	script := `read -r prompt
echo "plain line: got $prompt"
echo "session in: ${AGENTLINE_SESSION_ID:-none}, home: $CODEX_HOME"
echo '{"type":"thread.started","thread_id":"my-session-1"}'
echo '{"type":"item.started","item":{"type":"command_execution","command":"make test"}}'
echo '{"type":"item.completed","item":{"type":"command_execution","command":"make test","exit_code":0,"aggregated_output":"ok\nleaked '"$SECRET_TOKEN"'"}}'
echo '{"type":"item.completed","item":{"type":"agent_message","text":"All done."}}'
echo '{"type":"turn.completed","usage":{"input_tokens":11,"cached_input_tokens":1,"output_tokens":4}}'
echo "stderr says $SECRET_TOKEN" >&2
`
	var log, raw bytes.Buffer
	secret := "s3cr3t-token-value"
	ex, err := Execute(context.Background(), Command{Args: []string{"bash", "-c", script}}, Spec{
		Prompt: "do the thing\n", Workdir: dir, CodexHome: filepath.Join(dir, "home"), SessionID: "prev-1",
		Env: append(os.Environ(), "SECRET_TOKEN="+secret), Log: &log, Raw: &raw, Redact: NewRedactor(secret),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Err(time.Minute); err != nil {
		t.Fatal(err)
	}
	tr := ex.Transcript
	if tr.SessionID != "my-session-1" || tr.FinalMessage != "All done." || tr.Commands != 1 || tr.Usage.InputTokens != 11 || tr.Usage.OutputTokens != 4 {
		t.Errorf("transcript %+v", tr)
	}
	for _, want := range []string{"plain line: got do the thing", "session in: prev-1", "$ make test", "-> exit 0, output:\n     ok\n     leaked [redacted]",
		"[agent] message:\n    All done.", "turn completed: 11 input tokens (1 cached), 4 output tokens", "[agent stderr] stderr says [redacted]"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	if strings.Contains(log.String()+raw.String(), secret) {
		t.Errorf("secret leaked into log or raw stream")
	}
	if !strings.Contains(raw.String(), `"thread_id":"my-session-1"`) {
		t.Errorf("raw stream:\n%s", raw.String())
	}
}

func TestExecuteFinalMessageFallbacks(t *testing.T) {
	dir := t.TempDir()
	// No events: the last-message file wins over plain output.
	last := filepath.Join(dir, "last.txt")
	ex, err := Execute(context.Background(), Command{Args: []string{"sh", "-c", `echo working; printf 'from file' > "$AGENTLINE_LAST_MESSAGE_FILE"`}},
		Spec{Workdir: dir, LastMessageFile: last})
	if err != nil || ex.Transcript.FinalMessage != "from file" {
		t.Errorf("final message %q, %v", ex.Transcript.FinalMessage, err)
	}
	// Neither: the end of the plain output.
	ex, err = Execute(context.Background(), Command{Args: []string{"sh", "-c", "echo one; echo two; exit 4"}}, Spec{Workdir: dir})
	if err != nil || ex.Transcript.FinalMessage != "one\ntwo" {
		t.Errorf("final message %q, %v", ex.Transcript.FinalMessage, err)
	}
	if e := ex.Err(time.Minute); e == nil || !strings.Contains(e.Error(), "exited with code 4") {
		t.Errorf("Err() = %v", e)
	}
}

func TestTranscriptTurnFailed(t *testing.T) {
	var log bytes.Buffer
	tr := Transcript{Log: &log}
	tr.Line(`{"type":"error","message":"stream disconnected"}`)
	tr.Line(`{"type":"turn.failed","error":{"message":"model refused"}}`)
	ex := &Execution{Transcript: tr}
	if err := ex.Err(time.Minute); err == nil || !strings.Contains(err.Error(), "model refused") {
		t.Errorf("Err() = %v", err)
	}
	if !strings.Contains(log.String(), "[agent] turn failed: model refused") {
		t.Errorf("log:\n%s", log.String())
	}
}
