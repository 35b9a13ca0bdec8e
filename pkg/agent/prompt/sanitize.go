package prompt

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Default size bounds (in bytes) applied by the sanitizer to each part of the prompt.
const (
	DefaultTitleLimit   = 300
	DefaultBodyLimit    = 16000
	DefaultCommentLimit = 6000
	DefaultTextLimit    = 8000
)

var htmlComment = regexp.MustCompile(`(?s)<!--.*?(-->|$)`)

// invisible reports runes that render as nothing or reorder text: zero-width characters, bidi
// controls and other format characters (Unicode category Cf), plus the BOM and soft hyphen.
// Attackers use them to hide instructions from human reviewers while the model still reads them.
func invisible(r rune) bool {
	switch r {
	case '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u180e',
		'\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069',
		'\u200e', '\u200f', '\u061c':
		return true
	}
	if unicode.Is(unicode.Cf, r) {
		return true
	}
	// Unicode "tag" characters (U+E0000..U+E007F) can smuggle invisible ASCII.
	if r >= 0xE0000 && r <= 0xE007F {
		return true
	}
	// Other control characters except tab and newline.
	return unicode.IsControl(r) && r != '\n' && r != '\t'
}

// Clean strips HTML comments (including an unterminated one running to the end), invisible and
// bidi control characters and carriage returns, and trims trailing white space.
func Clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = htmlComment.ReplaceAllString(s, "")
	s = strings.Map(func(r rune) rune {
		if r == '\r' || invisible(r) {
			return -1
		}
		return r
	}, s)
	return strings.TrimRight(s, " \t\n")
}

// Bound cuts s to at most limit bytes (on a rune boundary, preferring a line break) and appends an
// explicit note naming what was cut, so the agent knows the text is incomplete. limit <= 0 means
// no bound.
func Bound(s string, limit int, what string) string {
	if limit <= 0 || len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if nl := strings.LastIndexByte(s[:cut], '\n'); nl > cut/2 {
		cut = nl
	}
	return strings.TrimRight(s[:cut], " \t\n") +
		fmt.Sprintf("\n[truncated: %s was %d bytes, only the first %d are shown]", what, len(s), cut)
}

// Sanitize is Clean followed by Bound.
func Sanitize(s string, limit int, what string) string {
	return Bound(Clean(s), limit, what)
}

// CleanLine is Clean for one-line values (titles, names): line breaks become spaces.
func CleanLine(s string, limit int, what string) string {
	s = strings.Join(strings.Fields(Clean(s)), " ")
	return Bound(s, limit, what)
}
