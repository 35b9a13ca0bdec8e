// Package agent prepares and runs the coding agent for agent-run: it reads the issue or pull
// request from GitHub (only text by allowed users, sanitized and bounded), chooses the model and
// reasoning effort (codex config < AGENTLINE_MODEL / AGENTLINE_REASONING_EFFORT < issue labels
// [ai-model-X] / [ai-reasoning-Y] < flags), renders the prompt (package prompt), writes the Codex
// config.toml (package codexconfig), runs the agent and writes the results.
//
// # Running
//
// CODEX_HOME is <codex-home>/<owner>/<name>/issue-N (or pr-N) on the workspace volume, so a
// session survives the pod. The prompt goes on stdin. A new session runs `codex exec --json
// --skip-git-repo-check --output-last-message FILE -`; in short mode with a stored session id it
// runs `codex exec resume --json ... <id> -`. The agent runs in its own process group: on timeout,
// or when agent-run gets SIGTERM/SIGINT (the same signal is forwarded), the group gets the signal,
// then SIGKILL after the grace period; after the agent exits, whatever is left of its group is
// killed. Stdout's JSON events become a readable log (commands with exit codes and a few output
// lines, messages, warnings, errors, token usage); the raw stream is kept in
// CODEX_HOME/runs/<time>/events.jsonl next to prompt.md and final-message.md. Values of
// environment variables whose names look secret (KEY, TOKEN, SECRET, PASSWORD, CREDENTIAL), the
// MCP secret values and the GitHub token are replaced by [redacted] in the log, the raw stream and
// the results.
//
// # Contract for --agent command
//
// `agent-run --agent command --agent-cmd "my-agent --flag 'two words'"` runs another CLI instead
// of Codex. The command line is split on white space (single or double quotes group, backslash
// escapes; no shell) and run with:
//
//   - the prompt on stdin;
//   - the workspace as working directory;
//   - agent-run's environment plus CODEX_HOME and AGENTLINE_CODEX_HOME (a per issue/PR folder on
//     the workspace volume for the agent's state), AGENTLINE_SESSION_ID (the stored session id
//     in short mode, else unset), AGENTLINE_LAST_MESSAGE_FILE (where the agent may write its
//     final message), AGENTLINE_MODEL and AGENTLINE_REASONING_EFFORT (the chosen values);
//   - exit code 0 meaning success, anything else failure;
//   - optionally, JSON events on stdout, one per line, in the Codex shape: {"type":
//     "thread.started","thread_id":ID} (the session id stored for the next short run),
//     {"type":"item.completed","item":{"type":"agent_message","text":...}} (the final message),
//     {"type":"item.completed","item":{"type":"command_execution","command":...,"exit_code":N}},
//     {"type":"turn.completed","usage":{"input_tokens":N,"output_tokens":M}}, {"type":"error",
//     "message":...}. Other stdout lines are logged as they are; without an agent_message event
//     the final message is the last-message file, else the end of that plain output.
package agent
