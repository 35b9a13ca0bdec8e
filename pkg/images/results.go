package images

import (
	"encoding/json"
	"fmt"

	taskresults "github.com/agentline/agentline/pkg/results"
)

// Actions reported in Result.Action.
const (
	ActionMirrored = "mirrored"
	ActionSkipped  = "skipped"
	ActionBuilt    = "built"
)

// Result is what happened to one image.
type Result struct {
	// Name is the image's key in services.yaml `images`.
	Name string `json:"name"`
	// Ref is the destination reference (repository:tag).
	Ref string `json:"ref"`
	// Digest is the destination manifest digest (sha256:...).
	Digest string `json:"digest"`
	// Action is mirrored, skipped or built.
	Action string `json:"action"`
}

// Tekton result names written by WriteResults. IMAGE_URL and IMAGE_DIGEST are the names Tekton
// Chains looks for.
const (
	ResultImages      = "IMAGES"
	ResultImageURL    = "IMAGE_URL"
	ResultImageDigest = "IMAGE_DIGEST"
)

// Plan result names written by WritePlanResults: JSON arrays of image names, for a Tekton matrix
// that fans out one `kaniko-wrap build --only NAME` per pod.
const (
	ResultBuilds  = "BUILDS"
	ResultMirrors = "MIRRORS"
)

// WritePlanResults writes BUILDS and MIRRORS (JSON arrays of names, in plan order) into dir.
func WritePlanResults(dir string, p *Plan) error {
	builds, mirrors := []string{}, []string{}
	for _, b := range p.Builds {
		builds = append(builds, b.Name)
	}
	for _, m := range p.Mirrors {
		mirrors = append(mirrors, m.Name)
	}
	b, _ := json.Marshal(builds) // []string always encodes
	m, _ := json.Marshal(mirrors)
	return taskresults.Write(dir, map[string]string{ResultBuilds: string(b), ResultMirrors: string(m)})
}

// WriteResults writes IMAGES (a JSON list of results) into dir and, when there is exactly one
// result, IMAGE_URL and IMAGE_DIGEST. Files have no trailing newline.
func WriteResults(dir string, results []Result) error {
	if results == nil {
		results = []Result{}
	}
	b, err := json.Marshal(results)
	if err != nil {
		return fmt.Errorf("encode %s: %w", ResultImages, err)
	}
	files := map[string]string{ResultImages: string(b)}
	if len(results) == 1 {
		files[ResultImageURL] = results[0].Ref
		files[ResultImageDigest] = results[0].Digest
	}
	return taskresults.Write(dir, files)
}
