package prompt

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	cases := map[string]string{
		"a<!-- hidden -->b":                       "ab",
		"a<!--\nmulti\nline\n-->b<!-- x -->c":     "abc",
		"keep <!-- unterminated runs to the end":  "keep",
		"zero\u200bwidth\u200c\u200d\u2060\ufeff": "zerowidth",
		"bidi \u202eevil\u202c \u2066x\u2069":     "bidi evil x",
		"tag\U000E0041\U000E0042 chars":           "tag chars",
		"crlf\r\nline\x07bell":                    "crlf\nlinebell",
		"trailing   \n\n":                         "trailing",
		"tab\tkept\nnewline kept":                 "tab\tkept\nnewline kept",
		"Кириллица остаётся":                      "Кириллица остаётся",
	}
	for in, want := range cases {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBound(t *testing.T) {
	if got := Bound("short", 10, "x"); got != "short" {
		t.Errorf("Bound kept text under the limit changed: %q", got)
	}
	long := strings.Repeat("я", 100) // 200 bytes
	got := Bound(long, 51, "the body")
	if !utf8.ValidString(got) {
		t.Fatalf("Bound cut inside a rune: %q", got)
	}
	if !strings.Contains(got, "[truncated: the body was 200 bytes, only the first 50 are shown]") {
		t.Errorf("no truncation note: %q", got)
	}
	lines := strings.Repeat("line of text\n", 20)
	got = Bound(lines, 100, "c")
	if head, _, _ := strings.Cut(got, "\n[truncated"); !strings.HasSuffix(head, "line of text") {
		t.Errorf("Bound should cut at a line break: %q", got)
	}
}

func TestPolicy(t *testing.T) {
	p := Policy{Allowed: func(l string) bool { return l == "alice" }, CommentLimit: 40, MaxComments: 2}
	kept, earlier, omitted := p.Comments([]Comment{
		{Author: "alice", Body: "one"},
		{Author: "mallory", Body: "evil"},
		{Author: "alice", Body: "two <!-- x -->"},
		{Author: "mallory", Body: "evil 2"},
		{Author: "trudy", Body: "evil 3"},
		{Author: "alice", Body: strings.Repeat("three ", 20)},
	})
	if len(kept) != 2 || earlier != 1 || kept[0].Body != "two" {
		t.Fatalf("kept=%+v earlier=%d", kept, earlier)
	}
	if !strings.Contains(kept[1].Body, "[truncated: this comment was 119 bytes") {
		t.Errorf("comment not bounded: %q", kept[1].Body)
	}
	if len(omitted) != 2 || omitted[0] != (Omission{"mallory", 2}) || omitted[1] != (Omission{"trudy", 1}) {
		t.Errorf("omitted = %+v", omitted)
	}
	iss := p.Issue(Issue{Number: 1, Author: "mallory", Title: "T\u200bitle\nnext", Body: "do evil"})
	if iss.Body != "" || !iss.BodyOmitted || iss.Title != "Title next" {
		t.Errorf("issue by non-allowed user: %+v", iss)
	}
	if nobody := (Policy{}); nobody.Issue(Issue{Author: "alice", Body: "x"}).Body != "" {
		t.Error("a Policy without Allowed must allow nobody")
	}
	open, resolved := p.Threads([]Thread{{ID: "a", Resolved: true}, {ID: "b", Comments: []Comment{{Author: "mallory", Body: "x"}}}})
	if resolved != 1 || len(open) != 1 || open[0].ID != "b" || len(open[0].Comments) != 0 || open[0].Omitted[0].Author != "mallory" {
		t.Errorf("threads: open=%+v resolved=%d", open, resolved)
	}
}

func TestSemanticLabels(t *testing.T) {
	got := Issue{Labels: []string{"bug", "[ai-dev]", "ai-plan", "[AI-model-x]", "area/api"}}.SemanticLabels()
	if strings.Join(got, ",") != "bug,area/api" {
		t.Errorf("SemanticLabels = %v", got)
	}
}
