package images

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The kaniko executor (v1.25.5) has no --build-context flag. For such an executor, named build
// contexts are emulated: each context directory is pushed as a one-layer image next to the
// destination (<repository>-context-<name>, tagged by content), and a copy of the Dockerfile refers
// to that image by digest wherever it names the context (`FROM NAME`, `COPY --from=NAME`).

// contextImageRepo is where the context NAME of a build is pushed.
func contextImageRepo(destination, ctxName string) (name.Repository, error) {
	ref, err := name.ParseReference(destination)
	if err != nil {
		return name.Repository{}, fmt.Errorf("destination %q: %w", destination, err)
	}
	return ref.Context().Registry.Repo(ref.Context().RepositoryStr() + "-context-" + strings.ToLower(ctxName)), nil
}

// emulateBuildContexts pushes b's build contexts as images and returns b with a rewritten
// Dockerfile (in work) and no BuildContexts.
func (bl *Builder) emulateBuildContexts(ctx context.Context, work string, b Build) (Build, error) {
	reg := bl.Registries
	if reg == nil {
		reg = NewRegistries()
	}
	refs := map[string]string{}
	for _, c := range b.BuildContexts {
		repo, err := contextImageRepo(b.Destination, c.Name)
		if err != nil {
			return b, err
		}
		img, spool, err := dirImage(c.Path, work)
		if spool != "" {
			defer os.Remove(spool)
		}
		if err != nil {
			return b, fmt.Errorf("build context %s (%s): %w", c.Name, c.Path, err)
		}
		d, err := img.Digest()
		if err != nil {
			return b, err
		}
		tagged, err := reg.ParseReference(repo.String() + ":" + strings.TrimPrefix(d.String(), "sha256:")[:16])
		if err != nil {
			return b, err
		}
		if err := remote.Write(tagged, img, reg.remoteOptions(ctx)...); err != nil {
			return b, fmt.Errorf("push build context %s to %s: %w", c.Name, tagged, registryError(err))
		}
		refs[c.Name] = repo.String() + "@" + d.String()
		fmt.Fprintf(bl.logW(), "build %s: build context %s (%s) pushed as %s\n", b.Name, c.Name, c.Path, refs[c.Name])
	}
	src, err := os.ReadFile(b.Dockerfile)
	if err != nil {
		return b, fmt.Errorf("dockerfile: %w", err)
	}
	out := filepath.Join(work, fileName(b.Name)+".Dockerfile")
	if err := os.WriteFile(out, []byte(rewriteDockerfile(string(src), refs)), 0o644); err != nil {
		return b, fmt.Errorf("write rewritten dockerfile: %w", err)
	}
	b.Dockerfile = out
	b.BuildContexts = nil
	return b, nil
}

var (
	fromLine = regexp.MustCompile(`(?i)^(\s*FROM\s+(?:--platform=\S+\s+)?)(\S+)(.*)$`)
	fromFlag = regexp.MustCompile(`(--from=)("?)([^\s"]+)("?)`)
)

// rewriteDockerfile replaces the names in refs where they appear as a FROM image or a --from
// value. Other lines are kept byte for byte.
func rewriteDockerfile(src string, refs map[string]string) string {
	lines := strings.SplitAfter(src, "\n")
	for i, l := range lines {
		body := strings.TrimRight(l, "\r\n")
		nl := l[len(body):]
		if m := fromLine.FindStringSubmatch(body); m != nil {
			if r, ok := refs[m[2]]; ok {
				body = m[1] + r + m[3]
			}
		}
		body = fromFlag.ReplaceAllStringFunc(body, func(s string) string {
			m := fromFlag.FindStringSubmatch(s)
			if r, ok := refs[m[3]]; ok {
				return m[1] + m[2] + r + m[4]
			}
			return s
		})
		lines[i] = body + nl
	}
	return strings.Join(lines, "")
}

// dirImage returns a one-layer image holding dir's tree at /, with fixed timestamps and owners
// so that the same tree always yields the same digest. The layer's tar is spooled in the file
// spool (in tmpDir), which the caller removes once the image is pushed.
func dirImage(dir, tmpDir string) (img v1.Image, spool string, err error) {
	f, err := os.CreateTemp(tmpDir, "context-*.tar")
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	spool = f.Name()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		} else if !info.Mode().IsRegular() && !info.IsDir() {
			return nil // sockets, devices, pipes
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			h.Name += "/"
		}
		h.ModTime, h.AccessTime, h.ChangeTime = time.Unix(0, 0), time.Time{}, time.Time{}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			src, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, src)
			src.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, spool, err
	}
	if err := tw.Close(); err != nil {
		return nil, spool, err
	}
	layer, err := tarball.LayerFromFile(f.Name())
	if err != nil {
		return nil, spool, err
	}
	img, err = mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, spool, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, spool, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	img, err = mutate.ConfigFile(img, cf)
	return img, spool, err
}
