package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// DefaultMirrorConcurrency bounds how many images are mirrored at once.
const DefaultMirrorConcurrency = 4

// Mirrorer copies external images into the cluster registry with go-containerregistry.
type Mirrorer struct {
	// Registries scopes insecure access; NewRegistries() (nothing insecure) when nil.
	Registries *Registries
	// Concurrency bounds parallel mirrors; DefaultMirrorConcurrency when <= 0.
	Concurrency int
	// Log receives one line per image; discarded when nil.
	Log io.Writer
}

// Run mirrors every entry. An image whose destination already holds the source's digest costs
// two manifest HEAD requests and no upload. Results come back in the order of mirrors, one per
// image that succeeded; the error joins every failure, each naming its image.
func (m *Mirrorer) Run(ctx context.Context, mirrors []Mirror) ([]Result, error) {
	reg := m.Registries
	if reg == nil {
		reg = NewRegistries()
	}
	log := m.Log
	if log == nil {
		log = io.Discard
	}
	opts := reg.remoteOptions(ctx)
	puller, err := remote.NewPuller(opts...)
	if err != nil {
		return nil, fmt.Errorf("mirror: registry client: %w", err)
	}
	pusher, err := remote.NewPusher(opts...)
	if err != nil {
		return nil, fmt.Errorf("mirror: registry client: %w", err)
	}
	c := &mirrorClient{
		reg:  reg,
		pull: append(append([]remote.Option{}, opts...), remote.Reuse(puller)),
		push: append(append([]remote.Option{}, opts...), remote.Reuse(pusher)),
	}

	n := m.Concurrency
	if n <= 0 {
		n = DefaultMirrorConcurrency
	}
	results := make([]*Result, len(mirrors))
	errs := make([]error, len(mirrors))
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	var logMu sync.Mutex
	for i, mi := range mirrors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = fmt.Errorf("mirror %s: %w", mi.Name, ctx.Err())
				return
			}
			defer func() { <-sem }()
			res, err := c.mirrorOne(mi)
			logMu.Lock()
			defer logMu.Unlock()
			if err != nil {
				errs[i] = fmt.Errorf("mirror %s (%s -> %s): %w", mi.Name, mi.From, mi.To, err)
				fmt.Fprintf(log, "mirror %s: FAILED: %v\n", mi.Name, err)
				return
			}
			results[i] = &res
			fmt.Fprintf(log, "mirror %s: %s %s -> %s@%s\n", mi.Name, res.Action, mi.From, mi.To, res.Digest)
		}()
	}
	wg.Wait()
	out := make([]Result, 0, len(mirrors))
	for _, r := range results {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, errors.Join(errs...)
}

type mirrorClient struct {
	reg        *Registries
	pull, push []remote.Option
}

func (c *mirrorClient) mirrorOne(mi Mirror) (Result, error) {
	src, err := c.reg.ParseReference(mi.From)
	if err != nil {
		return Result{}, fmt.Errorf("from: %w", err)
	}
	dst, err := c.reg.ParseReference(mi.To)
	if err != nil {
		return Result{}, fmt.Errorf("local: %w", err)
	}
	res := Result{Name: mi.Name, Ref: mi.To}

	srcDigest, err := c.headDigest(src)
	if err != nil {
		return res, fmt.Errorf("source image %s: %w", mi.From, err)
	}
	dstDesc, err := remote.Head(dst, c.pull...)
	switch {
	case err == nil && dstDesc.Digest == srcDigest:
		res.Digest = srcDigest.String()
		res.Action = ActionSkipped
		return res, nil
	case err != nil && !isNotFound(err):
		return res, fmt.Errorf("destination %s: %w", mi.To, registryError(err))
	}

	desc, err := remote.Get(src, c.pull...)
	if err != nil {
		return res, fmt.Errorf("source image %s: %w", mi.From, registryError(err))
	}
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return res, fmt.Errorf("source index %s: %w", mi.From, err)
		}
		if err := remote.WriteIndex(dst, idx, c.push...); err != nil {
			return res, fmt.Errorf("write index %s: %w", mi.To, registryError(err))
		}
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return res, fmt.Errorf("source image %s: %w", mi.From, err)
		}
		if err := remote.Write(dst, img, c.push...); err != nil {
			return res, fmt.Errorf("write image %s: %w", mi.To, registryError(err))
		}
	default:
		return res, fmt.Errorf("source image %s: unsupported media type %q", mi.From, desc.MediaType)
	}
	res.Digest = desc.Digest.String()
	res.Action = ActionMirrored
	return res, nil
}

// headDigest returns the manifest digest of ref with a HEAD request, falling back to GET for
// registries that answer HEAD without a digest.
func (c *mirrorClient) headDigest(ref name.Reference) (v1.Hash, error) {
	d, err := remote.Head(ref, c.pull...)
	if err == nil {
		return d.Digest, nil
	}
	if isNotFound(err) {
		return v1.Hash{}, fmt.Errorf("not found: %w", err)
	}
	if plainHTTPRefused(err) != nil {
		return v1.Hash{}, registryError(err)
	}
	full, gerr := remote.Get(ref, c.pull...)
	if gerr != nil {
		return v1.Hash{}, registryError(gerr)
	}
	return full.Digest, nil
}

// registryError puts the cause a user can act on first: an untrusted certificate, or the
// plain-HTTP refusal that follows an https attempt on a registry that only speaks HTTP.
func registryError(err error) error {
	refused := plainHTTPRefused(err)
	if refused == nil {
		return err
	}
	var perr *PlainHTTPError
	if errors.As(refused, &perr) && strings.Contains(err.Error(), "x509:") {
		return fmt.Errorf("TLS certificate of registry %s not verified; name the host in --insecure-registry to skip verification: %w", perr.Host, err)
	}
	return fmt.Errorf("%w (underlying: %v)", refused, err)
}
