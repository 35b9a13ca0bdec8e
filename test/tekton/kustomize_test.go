package tekton_test

import (
	"fmt"
	"strings"
	"testing"

	agentinstall "github.com/agentline/agentline/test/install"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// clusterScoped are the kinds of the install that have no namespace.
var clusterScoped = agentinstall.ClusterScoped

// build resolves dir/kustomization.yaml (agentinstall.Build); objects carry sourceAnnotation.
func build(t testing.TB, dir string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := agentinstall.Build(repoRoot(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// sourceAnnotation records which file an object came from (for messages).
const sourceAnnotation = agentinstall.SourceAnnotation

// find returns the one object of kind/name in objs.
func find(t testing.TB, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	var hits []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			hits = append(hits, o)
		}
	}
	if len(hits) != 1 {
		t.Fatalf("want exactly one %s %s in the install, got %d", kind, name, len(hits))
	}
	return hits[0]
}

// placeholderImages replaces ko:// references by plain image names: nothing is pulled on the
// kwok node, and the API server would accept ko:// anyway, but Tekton must see ordinary refs.
func placeholderImages(o *unstructured.Unstructured) error {
	b, err := o.MarshalJSON()
	if err != nil {
		return err
	}
	s := strings.ReplaceAll(string(b), "ko://"+modulePath+"/cmd/", "registry.invalid/agentline/")
	if strings.Contains(s, "ko://") {
		return fmt.Errorf("%s %s: ko:// reference outside %s/cmd", o.GetKind(), o.GetName(), modulePath)
	}
	return o.UnmarshalJSON([]byte(s))
}
