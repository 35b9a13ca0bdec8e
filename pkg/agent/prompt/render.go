// Package prompt renders the agent's prompt: one embedded template per kind and language
// (English and Russian carry the same directives), three modes, and the sanitizing policy that
// decides which GitHub text reaches the prompt.
package prompt

import (
	"bytes"
	"embed"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/template"
)

// Kind selects what the agent is asked to do.
type Kind string

// Prompt kinds.
const (
	PlanIssue    Kind = "plan_issue"
	PlanReview   Kind = "plan_review"
	DevIssue     Kind = "dev_issue"
	DevReview    Kind = "dev_review"
	RepairIssue  Kind = "repair_issue"
	RepairReview Kind = "repair_review"
)

// Kinds lists every kind in a stable order.
var Kinds = []Kind{PlanIssue, PlanReview, DevIssue, DevReview, RepairIssue, RepairReview}

// kindAliases maps the old tool's names to kinds.
var kindAliases = map[string]Kind{
	"ai-repair_issue":  RepairIssue,
	"ai-repair_review": RepairReview,
}

// ParseKind accepts a kind name or one of the old names (ai-repair_issue, ai-repair_review).
func ParseKind(s string) (Kind, error) {
	s = strings.TrimSpace(s)
	for _, k := range Kinds {
		if s == string(k) {
			return k, nil
		}
	}
	if k, ok := kindAliases[s]; ok {
		return k, nil
	}
	return "", fmt.Errorf("unknown prompt kind %q (allowed: %s, and the old names ai-repair_issue, ai-repair_review)", s, joinKinds())
}

func joinKinds() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// IsReview reports whether the kind answers review feedback.
func (k Kind) IsReview() bool { return k == PlanReview || k == DevReview || k == RepairReview }

// IsPlan reports whether the kind only plans.
func (k Kind) IsPlan() bool { return k == PlanIssue || k == PlanReview }

// IsRepair reports whether the kind repairs the staging environment.
func (k Kind) IsRepair() bool { return k == RepairIssue || k == RepairReview }

// Mode selects how much context the prompt carries.
type Mode string

// Prompt modes.
const (
	// Full is a fresh session: everything.
	Full Mode = "full"
	// Short resumes a stored session that already holds the context: only what is new.
	Short Mode = "short"
	// Continuation is a fresh session after the environment was rebuilt: everything plus how to
	// restore the earlier work from the issue, the PR and the branch.
	Continuation Mode = "continuation"
)

// Modes lists the modes.
var Modes = []Mode{Full, Short, Continuation}

// ParseMode parses a mode name; "" is Full.
func ParseMode(s string) (Mode, error) {
	switch Mode(strings.TrimSpace(s)) {
	case "", Full:
		return Full, nil
	case Short:
		return Short, nil
	case Continuation:
		return Continuation, nil
	}
	return "", fmt.Errorf("unknown prompt mode %q (allowed: full, short, continuation)", s)
}

// Lang is the prompt language.
type Lang string

// Prompt languages.
const (
	English Lang = "en"
	Russian Lang = "ru"
)

// Langs lists the languages.
var Langs = []Lang{English, Russian}

// ParseLang parses a language code; "" is English.
func ParseLang(s string) (Lang, error) {
	switch Lang(strings.ToLower(strings.TrimSpace(s))) {
	case "", English:
		return English, nil
	case Russian:
		return Russian, nil
	}
	return "", fmt.Errorf("unknown prompt language %q (allowed: en, ru)", s)
}

//go:embed templates
var templatesFS embed.FS

// Renderer renders prompts. The zero value uses the embedded templates and no extra functions.
type Renderer struct {
	// Funcs are extra template functions (usually the stack file's, see stackfile.Funcs); they
	// are overridden by the renderer's own helpers (quoteText, add, joinList, omitted).
	Funcs template.FuncMap
	// TemplateFile, when set, replaces the kind's template with this file. It is parsed together
	// with the language's common blocks, so it can {{template "context" .}} them.
	TemplateFile string
}

func helperFuncs() template.FuncMap {
	return template.FuncMap{
		"quoteText": quoteText,
		"add":       func(a, b int) int { return a + b },
		"joinList":  func(l []string, sep string) string { return strings.Join(l, sep) },
		"omitted": func(o []Omission) string {
			parts := make([]string, len(o))
			for i, x := range o {
				parts[i] = fmt.Sprintf("@%s (%d)", x.Author, x.Count)
			}
			return strings.Join(parts, ", ")
		},
	}
}

// quoteText prefixes every line with "> " so untrusted text is visibly set apart.
func quoteText(s string) string {
	if s == "" {
		return ">"
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l == "" {
			lines[i] = ">"
		} else {
			lines[i] = "> " + l
		}
	}
	return strings.Join(lines, "\n")
}

// Render renders the prompt for d.Kind, d.Lang and d.Mode.
func (r Renderer) Render(d Data) (string, error) {
	if _, err := ParseKind(string(d.Kind)); err != nil {
		return "", err
	}
	lang, err := ParseLang(string(d.Lang))
	if err != nil {
		return "", err
	}
	if d.Mode, err = ParseMode(string(d.Mode)); err != nil {
		return "", err
	}
	d.Lang = lang
	if err := d.validate(); err != nil {
		return "", err
	}
	funcs := template.FuncMap{}
	for k, v := range r.Funcs {
		funcs[k] = v
	}
	for k, v := range helperFuncs() {
		funcs[k] = v
	}
	common, err := templatesFS.ReadFile("templates/" + string(lang) + "/common.tmpl")
	if err != nil {
		return "", fmt.Errorf("embedded templates for %s: %w", lang, err)
	}
	t, err := template.New("common").Funcs(funcs).Option("missingkey=error").Parse(string(common))
	if err != nil {
		return "", fmt.Errorf("parse embedded common template (%s): %w", lang, err)
	}
	var name, body string
	if r.TemplateFile != "" {
		b, err := os.ReadFile(r.TemplateFile)
		if err != nil {
			return "", fmt.Errorf("prompt template: %w", err)
		}
		name, body = r.TemplateFile, string(b)
	} else {
		name = "templates/" + string(lang) + "/" + string(d.Kind) + ".tmpl"
		b, err := templatesFS.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("embedded template %s: %w", name, err)
		}
		body = string(b)
	}
	if _, err := t.New(name).Parse(body); err != nil {
		return "", fmt.Errorf("parse prompt template %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, d); err != nil {
		return "", fmt.Errorf("render prompt template %s: %w", name, err)
	}
	return tidy(buf.String()), nil
}

// tidy collapses runs of blank lines left by conditional template blocks and trims the ends.
func tidy(s string) string {
	lines := strings.Split(s, "\n")
	out := make([]string, 0, len(lines))
	blank := false
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			if blank || len(out) == 0 {
				continue
			}
			blank = true
		} else {
			blank = false
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n")) + "\n"
}

// TemplateNames lists the embedded template files (for documentation and tests).
func TemplateNames() []string {
	var names []string
	for _, l := range Langs {
		entries, _ := templatesFS.ReadDir("templates/" + string(l))
		for _, e := range entries {
			names = append(names, "templates/"+string(l)+"/"+e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// validate checks that the data a kind needs is present.
func (d Data) validate() error {
	switch d.Kind {
	case DevReview, RepairReview:
		if d.PR == nil {
			return fmt.Errorf("prompt kind %s needs a pull request (--pr)", d.Kind)
		}
	default:
		if d.Issue == nil {
			return fmt.Errorf("prompt kind %s needs an issue (--issue)", d.Kind)
		}
	}
	return nil
}
