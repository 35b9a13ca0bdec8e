package status

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Details is what a status message says about one run.
type Details struct {
	Kind, Run, Namespace string
	// State is queued, running, succeeded, failed, cancelled or superseded.
	State string
	// Position is the place in the queue (queued runs; 0 = unknown).
	Position int
	// Dashboard is the Tekton Dashboard link of the run ("" when no Dashboard is configured).
	Dashboard string
	// Slot, EnvNamespace and Host describe the run's environment (when known).
	Slot, EnvNamespace, Host string
	// PRURL and Summary come from a succeeded run's results.
	PRURL, Summary string
	// FailedTask and LogTail describe a failed run (LogTail already masked).
	FailedTask, LogTail string
}

// Render returns the comment body (without the marker) in lang ("en" or "ru").
func Render(lang string, d Details) string {
	t := texts["en"]
	if x, ok := texts[lang]; ok {
		t = x
	}
	var b strings.Builder
	run := "`" + d.Run + "`"
	if d.Dashboard != "" {
		run = fmt.Sprintf("[`%s`](%s)", d.Run, d.Dashboard)
	}
	switch d.State {
	case "queued":
		fmt.Fprintf(&b, t.queued, d.Kind, run)
		if d.Position > 0 {
			fmt.Fprintf(&b, t.position, d.Position)
		}
		b.WriteString(".")
	case "running":
		fmt.Fprintf(&b, t.running, d.Kind, run)
		env(&b, t, d)
	case "succeeded":
		fmt.Fprintf(&b, t.succeeded, d.Kind, run)
		if d.PRURL != "" {
			fmt.Fprintf(&b, "\n\n%s: %s", t.pr, d.PRURL)
		}
		if d.Host != "" {
			fmt.Fprintf(&b, "\n\n%s: %s", t.envLink, hostURL(d.Host))
		}
		if s := strings.TrimSpace(d.Summary); s != "" {
			fmt.Fprintf(&b, "\n\n%s:\n\n> %s", t.summary, strings.ReplaceAll(s, "\n", "\n> "))
		}
	case "failed":
		fmt.Fprintf(&b, t.failed, d.Kind, run)
		if d.FailedTask != "" {
			fmt.Fprintf(&b, t.inTask, d.FailedTask)
		}
		b.WriteString(".")
		if d.LogTail != "" {
			fmt.Fprintf(&b, "\n\n%s:\n\n```\n%s\n```", t.log, strings.ReplaceAll(d.LogTail, "```", "ʼʼʼ"))
		}
		b.WriteString("\n\n" + t.retry)
	case "superseded":
		fmt.Fprintf(&b, t.superseded, d.Kind, run)
	default:
		fmt.Fprintf(&b, t.cancelled, d.Kind, run)
	}
	return b.String()
}

func env(b *strings.Builder, t text, d Details) {
	var parts []string
	if d.Slot != "" {
		parts = append(parts, fmt.Sprintf("%s %s", t.slot, d.Slot))
	}
	if d.EnvNamespace != "" {
		parts = append(parts, fmt.Sprintf("%s `%s`", t.namespace, d.EnvNamespace))
	}
	if d.Host != "" {
		parts = append(parts, fmt.Sprintf("%s %s", t.host, hostURL(d.Host)))
	}
	if len(parts) > 0 {
		b.WriteString(" — " + strings.Join(parts, " · "))
	}
	b.WriteString(".")
}

func hostURL(h string) string {
	if strings.Contains(h, "://") {
		return h
	}
	return "https://" + h
}

type text struct {
	queued, position, running, succeeded, failed, inTask, cancelled, superseded string
	slot, namespace, host, pr, envLink, summary, log, retry                     string
}

var texts = map[string]text{
	"en": {
		queued: "⏳ **agentline**: `%s` run %s is queued", position: " (position %d)",
		running: "🏃 **agentline**: `%s` is running as PipelineRun %s", succeeded: "✅ **agentline**: `%s` run %s succeeded.",
		failed: "❌ **agentline**: `%s` run %s failed", inTask: " in task `%s`",
		cancelled: "⏹ **agentline**: `%s` run %s was cancelled.", superseded: "⏭ **agentline**: `%s` run %s was replaced by a newer run.",
		slot: "slot", namespace: "namespace", host: "host", pr: "Pull request", envLink: "Environment",
		summary: "Agent's summary", log: "Last lines of the log", retry: "Comment `/retry` to run it again.",
	},
	"ru": {
		queued: "⏳ **agentline**: запуск `%s` %s в очереди", position: " (позиция %d)",
		running: "🏃 **agentline**: `%s` выполняется, PipelineRun %s", succeeded: "✅ **agentline**: запуск `%s` %s завершился успешно.",
		failed: "❌ **agentline**: запуск `%s` %s завершился с ошибкой", inTask: " в задаче `%s`",
		cancelled: "⏹ **agentline**: запуск `%s` %s отменён.", superseded: "⏭ **agentline**: запуск `%s` %s заменён более новым.",
		slot: "слот", namespace: "namespace", host: "хост", pr: "Pull request", envLink: "Окружение",
		summary: "Итог агента", log: "Последние строки лога", retry: "Напишите `/retry`, чтобы запустить заново.",
	},
}

// Patterns of credentials masked in logs even when their value is not known.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`gh[pousr]_[A-Za-z0-9]{20,}`),
	regexp.MustCompile(`github_pat_[A-Za-z0-9_]{20,}`),
	regexp.MustCompile(`sk-[A-Za-z0-9_-]{20,}`),
	regexp.MustCompile(`(?i)(authorization:\s*(?:bearer|token|basic)\s+)\S+`),
	regexp.MustCompile(`(?i)((?:password|passwd|token|secret|api[_-]?key)\s*[=:]\s*)\S+`),
	regexp.MustCompile(`(https?://)[^/\s:@]+:[^/\s@]+@`),
}

// Mask replaces every known secret value (at least 4 characters) and anything that looks like
// a credential with `***`.
func Mask(s string, secrets []string) string {
	vals := append([]string(nil), secrets...)
	// Longest first, so a secret containing another is masked whole.
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	for _, v := range vals {
		if v = strings.TrimSpace(v); len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "***")
		}
	}
	for i, re := range secretPatterns {
		switch i {
		case 3, 4:
			s = re.ReplaceAllString(s, "${1}***")
		case 5:
			s = re.ReplaceAllString(s, "${1}***@")
		default:
			s = re.ReplaceAllString(s, "***")
		}
	}
	return s
}

// Tail returns the last n lines of s (without a trailing empty line).
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
