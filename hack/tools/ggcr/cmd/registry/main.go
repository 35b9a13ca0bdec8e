// Command registry serves an OCI registry for agentline's local stack, built on
// go-containerregistry's pkg/registry. Unlike upstream's cmd/registry it takes a listen address
// (pods must reach it on the node address, not only on localhost), keeps blobs on disk, keeps
// manifests on disk too (upstream holds them in memory only, so a restart would lose every tag),
// and never injects random warnings.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// savedManifest is one manifest PUT, replayed into the in-memory registry at start.
type savedManifest struct {
	Path        string `json:"path"` // /v2/<repo>/manifests/<ref>
	ContentType string `json:"contentType"`
	Body        []byte `json:"body"`
	Seq         int64  `json:"seq"`
}

func main() {
	address := flag.String("address", "127.0.0.1:5000", "listen address")
	blobs := flag.String("blobs", "", "directory for blobs and manifests (default: memory)")
	flag.Parse()

	opts := []registry.Option{registry.WithReferrersSupport(true)}
	manifests := ""
	if *blobs != "" {
		manifests = filepath.Join(*blobs, "manifests")
		if err := os.MkdirAll(manifests, 0o755); err != nil {
			log.Fatal(err)
		}
		opts = append(opts, registry.WithBlobHandler(registry.NewDiskBlobHandler(*blobs)))
	}
	reg := registry.New(opts...)
	handler := reg
	if manifests != "" {
		n := replay(reg, manifests)
		log.Printf("restored %d manifests from %s", n, manifests)
		handler = persist(reg, manifests)
	}
	l, err := net.Listen("tcp", *address)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("serving on %s", l.Addr())
	s := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: handler}
	log.Fatal(s.Serve(l))
}

func isManifestPath(p string) bool {
	return strings.HasPrefix(p, "/v2/") && strings.Contains(p, "/manifests/")
}

// persist records every successful manifest PUT (one file per repository and reference) and
// forgets deleted ones.
func persist(next http.Handler, dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isManifestPath(r.URL.Path) || (r.Method != http.MethodPut && r.Method != http.MethodDelete) {
			next.ServeHTTP(w, r)
			return
		}
		sum := sha256.Sum256([]byte(r.URL.Path))
		file := filepath.Join(dir, hex.EncodeToString(sum[:])+".json")
		if r.Method == http.MethodDelete {
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			if rec.Code/100 == 2 {
				_ = os.Remove(file)
			}
			copyResponse(w, rec)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		if rec.Code/100 == 2 {
			b, _ := json.Marshal(savedManifest{Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"), Body: body, Seq: time.Now().UnixNano()})
			if err := os.WriteFile(file+".tmp", b, 0o644); err == nil {
				_ = os.Rename(file+".tmp", file)
			}
		}
		copyResponse(w, rec)
	})
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// replay PUTs the saved manifests into the registry in their original order (an index after the
// manifests it names).
func replay(reg http.Handler, dir string) int {
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	var all []savedManifest
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var m savedManifest
		if json.Unmarshal(b, &m) == nil && m.Path != "" {
			all = append(all, m)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Seq < all[j].Seq })
	n := 0
	for _, m := range all {
		req := httptest.NewRequest(http.MethodPut, m.Path, bytes.NewReader(m.Body))
		req.Header.Set("Content-Type", m.ContentType)
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, req)
		if rec.Code/100 == 2 {
			n++
		} else {
			log.Printf("restoring %s: %d %s", m.Path, rec.Code, strings.TrimSpace(rec.Body.String()))
		}
	}
	return n
}
