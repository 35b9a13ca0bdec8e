//go:build tools

// This file pins modules that agentline's packages build on, so that `go mod tidy` keeps them
// while the packages that use them are being written.
package agentline

import (
	_ "github.com/google/go-containerregistry/pkg/registry"
	_ "github.com/google/go-containerregistry/pkg/v1/remote"
	_ "github.com/google/go-github/v66/github"
	_ "github.com/joho/godotenv"
	_ "github.com/pelletier/go-toml/v2"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/tektoncd/pipeline/pkg/client/clientset/versioned"
	_ "github.com/tektoncd/pipeline/pkg/client/injection/reconciler/pipeline/v1/pipelinerun"
	_ "github.com/tektoncd/triggers/pkg/interceptors/server"
	_ "gopkg.in/yaml.v3"
	_ "k8s.io/client-go/dynamic"
	_ "k8s.io/client-go/kubernetes"
	_ "knative.dev/pkg/injection/sharedmain"
)
