package images

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentline/agentline/pkg/stackfile"

	"github.com/agentline/agentline/test/shared"
)

// shopfront is the sample stack shared by the project (../shared next to the repository).
func shopfront(t *testing.T) string {
	t.Helper()
	p := filepath.Join(shared.Shopfront(t), "services.yaml")
	return p
}

func loadShopfront(t *testing.T, env string, slot int, environ ...string) (*Plan, string) {
	t.Helper()
	path := shopfront(t)
	p, _, err := LoadPlan(path, stackfile.LoadOptions{Env: env, Slot: slot, Environ: append([]string{}, environ...)})
	if err != nil {
		t.Fatalf("plan %s: %v", path, err)
	}
	return p, filepath.Dir(path)
}

func TestPlanShopfrontSlot(t *testing.T) {
	p, root := loadShopfront(t, "ai", 2)
	reg := "registry.shopfront-dev-2.svc.cluster.local:5000"
	want := &Plan{
		Project:  "shopfront",
		Registry: reg,
		Mirrors: []Mirror{{
			Name: "postgres",
			From: "docker.io/library/postgres:16-bookworm",
			To:   reg + "/library/postgres:16-bookworm",
		}},
		Builds: []Build{
			{
				Name:        "api",
				Destination: reg + "/shopfront/api:ai-staging-1.4.0",
				Dockerfile:  filepath.Join(root, "services/api/Dockerfile"),
				Context:     root,
				BuildArgs:   []BuildArg{{"GO_VERSION", "1.25-bookworm"}, {"VERSION", "1.4.0"}},
			},
			{
				Name:          "web",
				Destination:   reg + "/shopfront/web:ai-staging-2.1.3",
				Dockerfile:    filepath.Join(root, "services/web/Dockerfile"),
				Context:       filepath.Join(root, "services/web"),
				BuildArgs:     []BuildArg{{"NODE_VERSION", "22-bookworm"}},
				BuildContexts: []BuildContext{{"shared", filepath.Join(root, "libs/ui")}},
			},
			{
				Name:        "worker",
				Destination: reg + "/shopfront/worker:0.9.1",
				Dockerfile:  filepath.Join(root, "services/worker/Dockerfile"),
				Context:     root,
			},
		},
	}
	assertJSONEqual(t, p, want)
}

func TestPlanRendersPerEnvAndOnly(t *testing.T) {
	p, _ := loadShopfront(t, "dev", 0, "REGISTRY_HOST=reg.example.invalid:5000")
	if got := p.Builds[0].Destination; got != "reg.example.invalid:5000/shopfront/api:dev-1.4.0" {
		t.Errorf("dev api destination = %s", got)
	}
	only, err := p.Only([]string{"WEB", "postgres"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(only.Names(), ","); got != "postgres,web" {
		t.Errorf("--only WEB,postgres kept %s", got)
	}
	if _, err := p.Only([]string{"api", "nope"}); err == nil || !strings.Contains(err.Error(), "no image named nope") {
		t.Errorf("--only nope: err = %v", err)
	}
}

func TestPlanBadImagesNameTheField(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "services.yaml")
	yaml := `project: demo
images:
  ext:
    type: external
    from: docker.io/library/busybox:1
  both:
    type: build
    repository: r.example/demo/both
    tag: "1"
    tagTemplate: "{{ .Env }}"
  badtpl:
    type: build
    repository: r.example/demo/bad
    buildArgs:
      # renders to a template on the file pass; the value pass then fails
      X: '{{ "{{" }} .Nope.Deeper {{ "}}" }}'
`
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadPlan(path, stackfile.LoadOptions{Env: "dev", Environ: []string{}})
	if err == nil {
		t.Fatal("bad images section accepted")
	}
	for _, s := range []string{
		path + ": images.ext.local: required for type external",
		path + ": images.both.tagTemplate: set tag or tagTemplate, not both",
		"images.badtpl.buildArgs.X",
	} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not contain %q:\n%v", s, err)
		}
	}
}

func TestPlanMaskedHidesSecretArgs(t *testing.T) {
	p := &Plan{Builds: []Build{{Name: "a", BuildArgs: []BuildArg{{"NPM_TOKEN", "t0k3n"}, {"api_key", "k3y"}, {"VERSION", "1"}}}}}
	b, _ := json.Marshal(p.Masked())
	for _, s := range []string{"t0k3n", "k3y"} {
		if strings.Contains(string(b), s) {
			t.Errorf("masked plan shows %q: %s", s, b)
		}
	}
	if !strings.Contains(string(b), `"value":"1"`) || p.Builds[0].BuildArgs[0].Value != "t0k3n" {
		t.Errorf("masking changed the wrong values: %s / %+v", b, p.Builds[0].BuildArgs)
	}
}

func assertJSONEqual(t *testing.T, got, want any) {
	t.Helper()
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	if string(g) != string(w) {
		t.Errorf("got:\n%s\nwant:\n%s", g, w)
	}
}
