package images

import (
	"io"
	"log"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testRegistry is an in-process OCI registry that counts what clients write to it.
type testRegistry struct {
	srv  *httptest.Server
	host string

	mu          sync.Mutex
	blobUploads int // POST .../blobs/uploads/ (each starts one blob upload)
	writes      int // every request that is not GET or HEAD
	// active counts in-flight requests per repository; maxRepos is the most repositories
	// served at the same moment.
	active   map[string]int
	maxRepos int
}

func newTestRegistry(tb testing.TB, tlsServer bool) *testRegistry {
	tb.Helper()
	r := &testRegistry{active: map[string]int{}}
	h := registry.New(registry.Logger(nopLogger()))
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			r.mu.Lock()
			r.writes++
			if req.Method == http.MethodPost && strings.Contains(req.URL.Path, "/blobs/uploads/") {
				r.blobUploads++
			}
			r.mu.Unlock()
		}
		repo := repoOf(req.URL.Path)
		r.mu.Lock()
		r.active[repo]++
		if n := len(r.active); n > r.maxRepos && repo != "" {
			r.maxRepos = n
		}
		r.mu.Unlock()
		defer func() {
			r.mu.Lock()
			if r.active[repo]--; r.active[repo] == 0 {
				delete(r.active, repo)
			}
			r.mu.Unlock()
		}()
		h.ServeHTTP(w, req)
	})
	r.srv = httptest.NewUnstartedServer(wrapped)
	r.srv.Config.ErrorLog = nopLogger() // refused handshakes are expected
	if tlsServer {
		r.srv.StartTLS()
	} else {
		r.srv.Start()
	}
	tb.Cleanup(r.srv.Close)
	r.host = strings.TrimPrefix(strings.TrimPrefix(r.srv.URL, "http://"), "https://")
	return r
}

// repoOf returns the repository of a /v2/<repo>/(manifests|blobs)/... path, "" for others.
func repoOf(p string) string {
	p = strings.TrimPrefix(p, "/v2/")
	for _, sep := range []string{"/manifests/", "/blobs/"} {
		if i := strings.Index(p, sep); i > 0 {
			return p[:i]
		}
	}
	return ""
}

func (r *testRegistry) peakRepos() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxRepos
}

func (r *testRegistry) counts() (uploads, writes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.blobUploads, r.writes
}

func (r *testRegistry) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.blobUploads, r.writes = 0, 0
}

// testRemote returns options that reach r directly (test setup only: plain HTTP or the test
// server's own TLS client).
func (r *testRegistry) testRemote() []remote.Option {
	return []remote.Option{remote.WithTransport(r.srv.Client().Transport)}
}

func (r *testRegistry) ref(tb testing.TB, s string) name.Reference {
	tb.Helper()
	ref, err := name.ParseReference(r.host+"/"+s, name.Insecure)
	if err != nil {
		tb.Fatal(err)
	}
	return ref
}

// pushImage pushes a random image with layers and returns its digest.
func (r *testRegistry) pushImage(tb testing.TB, repoTag string, seed int64) v1.Hash {
	tb.Helper()
	img, err := random.Image(2048, 2, random.WithSource(rand.NewSource(seed)))
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.Write(r.ref(tb, repoTag), img, r.testRemote()...); err != nil {
		tb.Fatalf("push %s: %v", repoTag, err)
	}
	d, err := img.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// pushIndex pushes a linux/amd64 + linux/arm64 + linux/arm/v7 index and returns its digest and
// the children's digests.
func (r *testRegistry) pushIndex(tb testing.TB, repoTag string, seed int64) (v1.Hash, []v1.Hash) {
	tb.Helper()
	var adds []mutate.IndexAddendum
	var children []v1.Hash
	for i, p := range []v1.Platform{
		{OS: "linux", Architecture: "amd64"},
		{OS: "linux", Architecture: "arm64"},
		{OS: "linux", Architecture: "arm", Variant: "v7"},
	} {
		img, err := random.Image(1024, 2, random.WithSource(rand.NewSource(seed+int64(i))))
		if err != nil {
			tb.Fatal(err)
		}
		d, _ := img.Digest()
		children = append(children, d)
		p := p
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	idx := mutate.IndexMediaType(mutate.AppendManifests(empty.Index, adds...), types.OCIImageIndex)
	if err := remote.WriteIndex(r.ref(tb, repoTag), idx, r.testRemote()...); err != nil {
		tb.Fatalf("push index %s: %v", repoTag, err)
	}
	d, err := idx.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	return d, children
}

// digestOf returns the manifest digest the registry serves for repoTag.
func (r *testRegistry) digestOf(tb testing.TB, repoTag string) v1.Hash {
	tb.Helper()
	d, err := remote.Head(r.ref(tb, repoTag), r.testRemote()...)
	if err != nil {
		tb.Fatalf("head %s/%s: %v", r.host, repoTag, err)
	}
	return d.Digest
}

func nopLogger() *log.Logger { return log.New(io.Discard, "", 0) }
