package stack

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"sort"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"
)

//go:embed kwok/stages.yaml
var kwokStages []byte

// Annotation prefixes understood by the kwok node's Tekton stage (kwok/stages.yaml). Tekton copies
// PipelineRun and TaskRun annotations to the step pods, where the stage reads them.
const (
	// ResultsAnnotationPrefix + pipeline task (or Task) name holds the task's results.
	ResultsAnnotationPrefix = "results.kwok.agentline.dev/"
	// FailAnnotationPrefix + pipeline task (or Task) name, or "all", holds an exit code.
	FailAnnotationPrefix = "fail.kwok.agentline.dev/"
	// KwokTaint keeps pods off the kwok node unless their namespace tolerates it.
	KwokTaint = "kwok.agentline.dev/fake"
)

// KwokAnnotations returns the namespace annotations that make the API server's PodNodeSelector
// and PodTolerationRestriction admission send every pod of the namespace to the kwok node (for
// namespaces a test does not create with Env.KwokNamespace).
func KwokAnnotations() map[string]string { return maps.Clone(kwokNamespaceAnnotations) }

var kwokNamespaceAnnotations = map[string]string{
	"scheduler.alpha.kubernetes.io/node-selector":      "type=kwok",
	"scheduler.alpha.kubernetes.io/defaultTolerations": `[{"key":"` + KwokTaint + `","operator":"Exists","effect":"NoSchedule"}]`,
}

// FakeResults returns the annotations that make the kwok node report these results for each
// pipeline task (map: task -> result name -> value).
func FakeResults(results map[string]map[string]string) map[string]string {
	out := map[string]string{}
	for task, kv := range results {
		type runResult struct {
			Key   string `json:"key"`
			Value string `json:"value"`
			Type  int    `json:"type"` // 1 = task result in Tekton's termination message
		}
		keys := make([]string, 0, len(kv))
		for k := range kv {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var msg []runResult
		for _, k := range keys {
			msg = append(msg, runResult{Key: k, Value: kv[k], Type: 1})
		}
		b, _ := json.Marshal(msg)
		out[ResultsAnnotationPrefix+task] = string(b)
	}
	return out
}

// FailTask returns the annotation that makes the kwok node fail the pipeline task (or Task)
// with exitCode; task "all" fails every task.
func FailTask(task string, exitCode int) map[string]string {
	return map[string]string{FailAnnotationPrefix + task: strconv.Itoa(exitCode)}
}

// kwokNode is the fake node: pods are scheduled to it and marked finished by kwok's stages.
func (c Config) kwokNode(kube func() (kubernetes.Interface, error)) (component, error) {
	cfgPath := c.path("kwok.yaml")
	header := fmt.Sprintf(`apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  manageAllNodes: false
  manageNodesWithAnnotationSelector: kwok.x-k8s.io/node=fake
  serverAddress: 127.0.0.1:%d
  nodeLeaseDurationSeconds: 40
  nodeLeaseParallelism: 4
  podPlayStageParallelism: 4
  nodePlayStageParallelism: 4
  podsOnNodeSyncParallelism: 2
  cidr: 10.244.0.0/16
  nodeIP: 10.244.255.1
`, c.Ports.Kwok)
	if err := os.WriteFile(cfgPath, append([]byte(header+"---\n"), kwokStages...), 0o644); err != nil {
		return component{}, err
	}
	return component{
		process: process{name: "kwok", bin: c.bin("kwok"), args: []string{
			"--kubeconfig=" + c.KubeconfigPath(), "--config=" + cfgPath,
		}},
		ready:   nodeReady(kube, kwokNodeName),
		timeout: 30 * time.Second,
		ports:   []int{c.Ports.Kwok},
	}, nil
}
