package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestMirrorCopiesEveryPlatformThenSkips(t *testing.T) {
	src := newTestRegistry(t, false)
	dst := newTestRegistry(t, false)
	appDigest := src.pushImage(t, "team/app:1", 1)
	libDigest := src.pushImage(t, "team/lib:2", 2)
	idxDigest, children := src.pushIndex(t, "library/postgres:16", 10)

	mirrors := []Mirror{
		{Name: "app", From: src.host + "/team/app:1", To: dst.host + "/mirror/app:1"},
		{Name: "lib", From: src.host + "/team/lib:2", To: dst.host + "/mirror/lib:2"},
		{Name: "postgres", From: src.host + "/library/postgres:16", To: dst.host + "/library/postgres:16"},
	}
	var log strings.Builder
	m := &Mirrorer{Registries: NewRegistries(src.host, dst.host), Concurrency: 2, Log: &log}
	ctx := context.Background()

	res, err := m.Run(ctx, mirrors)
	if err != nil {
		t.Fatalf("first mirror: %v", err)
	}
	want := []Result{
		{Name: "app", Ref: mirrors[0].To, Digest: appDigest.String(), Action: ActionMirrored},
		{Name: "lib", Ref: mirrors[1].To, Digest: libDigest.String(), Action: ActionMirrored},
		{Name: "postgres", Ref: mirrors[2].To, Digest: idxDigest.String(), Action: ActionMirrored},
	}
	assertResults(t, res, want)
	for i, repo := range []string{"mirror/app:1", "mirror/lib:2", "library/postgres:16"} {
		if got := dst.digestOf(t, repo); got.String() != want[i].Digest {
			t.Errorf("destination %s has digest %s, want %s", repo, got, want[i].Digest)
		}
	}
	// Every platform's manifest and blobs were copied, not only the host's.
	for _, c := range children {
		ref := dst.ref(t, "library/postgres@"+c.String())
		img, err := remote.Image(ref, dst.testRemote()...)
		if err != nil {
			t.Fatalf("child %s missing in destination: %v", c, err)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			d, _ := l.Digest()
			rc, err := l.Compressed()
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			if err != nil {
				t.Errorf("child %s layer %s not readable from destination: %v", c, d, err)
			}
		}
	}
	uploads, _ := dst.counts()
	// 2 images x (2 layers + config) + 3 children x (2 layers + config) = 15 blobs.
	if uploads != 15 {
		t.Errorf("first mirror uploaded %d blobs, want 15", uploads)
	}

	dst.reset()
	res, err = m.Run(ctx, mirrors)
	if err != nil {
		t.Fatalf("second mirror: %v", err)
	}
	for i := range want {
		want[i].Action = ActionSkipped
	}
	assertResults(t, res, want)
	if uploads, writes := dst.counts(); uploads != 0 || writes != 0 {
		t.Errorf("second mirror: %d blob uploads, %d write requests; want none", uploads, writes)
	}
	if !strings.Contains(log.String(), "mirror postgres: skipped") {
		t.Errorf("log does not report the skip:\n%s", log.String())
	}
}

func TestMirrorConcurrencyIsBounded(t *testing.T) {
	src := newTestRegistry(t, false)
	var mirrors []Mirror
	for i := range 6 {
		repo := fmt.Sprintf("team/img%d:1", i)
		src.pushImage(t, repo, int64(20+i))
		mirrors = append(mirrors, Mirror{Name: fmt.Sprintf("img%d", i), From: src.host + "/" + repo})
	}
	for _, bound := range []int{1, 2} {
		dst := newTestRegistry(t, false)
		mi := append([]Mirror(nil), mirrors...)
		for i := range mi {
			mi[i].To = dst.host + "/" + mi[i].Name + ":1"
		}
		m := &Mirrorer{Registries: NewRegistries(src.host, dst.host), Concurrency: bound}
		if _, err := m.Run(context.Background(), mi); err != nil {
			t.Fatal(err)
		}
		if peak := dst.peakRepos(); peak > bound || peak == 0 {
			t.Errorf("concurrency %d: destination served %d repositories at once", bound, peak)
		}
	}
}

func TestMirrorRecopiesWhenTheSourceTagMoved(t *testing.T) {
	src := newTestRegistry(t, false)
	dst := newTestRegistry(t, false)
	src.pushImage(t, "team/app:1", 1)
	mi := []Mirror{{Name: "app", From: src.host + "/team/app:1", To: dst.host + "/app:1"}}
	m := &Mirrorer{Registries: NewRegistries(src.host, dst.host)}
	if _, err := m.Run(context.Background(), mi); err != nil {
		t.Fatal(err)
	}
	moved := src.pushImage(t, "team/app:1", 2)
	res, err := m.Run(context.Background(), mi)
	if err != nil {
		t.Fatal(err)
	}
	assertResults(t, res, []Result{{Name: "app", Ref: mi[0].To, Digest: moved.String(), Action: ActionMirrored}})
	if got := dst.digestOf(t, "app:1"); got != moved {
		t.Errorf("destination still at %s, want %s", got, moved)
	}
}

func TestMirrorMissingSourceNamesImage(t *testing.T) {
	src := newTestRegistry(t, false)
	dst := newTestRegistry(t, false)
	okDigest := src.pushImage(t, "team/app:1", 1)
	mirrors := []Mirror{
		{Name: "app", From: src.host + "/team/app:1", To: dst.host + "/app:1"},
		{Name: "ghost", From: src.host + "/team/ghost:9", To: dst.host + "/ghost:9"},
	}
	m := &Mirrorer{Registries: NewRegistries(src.host, dst.host)}
	res, err := m.Run(context.Background(), mirrors)
	if err == nil {
		t.Fatal("mirror of a missing source image succeeded")
	}
	for _, s := range []string{"mirror ghost", src.host + "/team/ghost:9", "not found"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	if strings.Contains(err.Error(), "mirror app") {
		t.Errorf("error blames the good image: %v", err)
	}
	assertResults(t, res, []Result{{Name: "app", Ref: mirrors[0].To, Digest: okDigest.String(), Action: ActionMirrored}})
}

func TestMirrorRefusesPlainHTTPToHostNotNamedInsecure(t *testing.T) {
	src := newTestRegistry(t, false)
	dst := newTestRegistry(t, false)
	src.pushImage(t, "team/app:1", 1)
	// Only the source is named: the destination (127.0.0.1, which go-containerregistry alone
	// would reach over plain HTTP) must be refused.
	m := &Mirrorer{Registries: NewRegistries(src.host)}
	_, err := m.Run(context.Background(), []Mirror{{Name: "app", From: src.host + "/team/app:1", To: dst.host + "/app:1"}})
	if err == nil {
		t.Fatal("mirror to a plain-HTTP registry not named insecure succeeded")
	}
	t.Logf("error: %v", err)
	var perr *PlainHTTPError
	if !errors.As(err, &perr) || perr.Host != dst.host {
		t.Errorf("error is not a PlainHTTPError for %s: %v", dst.host, err)
	}
	for _, s := range []string{"mirror app", "plain HTTP to registry " + dst.host + " refused", "--insecure-registry"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	if _, writes := dst.counts(); writes != 0 {
		t.Errorf("refused destination still got %d write requests", writes)
	}
}

func TestMirrorTLSVerificationRelaxedOnlyForNamedHosts(t *testing.T) {
	src := newTestRegistry(t, true) // self-signed certificate
	dst := newTestRegistry(t, false)
	want := src.pushImage(t, "team/app:1", 1)
	mi := []Mirror{{Name: "app", From: src.host + "/team/app:1", To: dst.host + "/app:1"}}

	_, err := (&Mirrorer{Registries: NewRegistries(dst.host)}).Run(context.Background(), mi)
	if err == nil || !strings.Contains(err.Error(), "TLS certificate of registry "+src.host+" not verified") {
		t.Fatalf("unverified TLS to a host not named insecure: err = %v, want a certificate error", err)
	}
	t.Logf("error: %v", err)
	res, err := (&Mirrorer{Registries: NewRegistries(dst.host, src.host)}).Run(context.Background(), mi)
	if err != nil {
		t.Fatalf("mirror from a named TLS host: %v", err)
	}
	assertResults(t, res, []Result{{Name: "app", Ref: mi[0].To, Digest: want.String(), Action: ActionMirrored}})
}

func TestRegistriesInsecureNormalization(t *testing.T) {
	r := NewRegistries("Docker.IO", " registry.ns.svc:5000 ", "")
	for host, want := range map[string]bool{
		"index.docker.io":      true,
		"docker.io":            true,
		"registry.ns.svc:5000": true,
		"registry.ns.svc":      false,
		"127.0.0.1:5000":       false,
	} {
		if got := r.Insecure(host); got != want {
			t.Errorf("Insecure(%q) = %v, want %v", host, got, want)
		}
	}
	if got := fmt.Sprint(r.InsecureHosts()); got != "[index.docker.io registry.ns.svc:5000]" {
		t.Errorf("InsecureHosts = %s", got)
	}
}

func assertResults(t *testing.T, got, want []Result) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("results:\n got %+v\nwant %+v", got, want)
	}
}
