// Command interceptors serves Tekton Triggers' core interceptors (github, gitlab, bitbucket, cel,
// slack) from github.com/tektoncd/triggers v0.37.0. It is upstream's cmd/interceptors with one
// change for agentline's local stack: the listen address is a flag (upstream fixes :8443), so two
// stacks, or a stack and a real cluster's port-forward, can share a machine.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"time"

	triggersclientset "github.com/tektoncd/triggers/pkg/client/clientset/versioned"
	"github.com/tektoncd/triggers/pkg/interceptors"
	"github.com/tektoncd/triggers/pkg/interceptors/server"
	"github.com/tektoncd/triggers/pkg/interceptors/server/tlsconfig"
	"go.uber.org/zap"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	"knative.dev/pkg/injection"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/signals"
)

var address = flag.String("address", ":8443", "address the HTTPS server listens on")

func main() {
	ctx := signals.NewContext()
	cfg := injection.ParseAndGetRESTConfigOrDie() // parses flags
	ctx, startInformer := injection.EnableInjectionOrDie(ctx, cfg)

	zl, err := zap.NewProduction()
	if err != nil {
		log.Fatalf("failed to initialize logger: %s", err)
	}
	logger := zl.Sugar()
	ctx = logging.WithLogger(ctx, logger)

	service, err := server.NewWithCoreInterceptors(interceptors.DefaultSecretGetter(kubeclient.Get(ctx).CoreV1()), logger)
	if err != nil {
		logger.Fatalf("failed to initialize core interceptors: %s", err)
	}
	startInformer()

	mux := http.NewServeMux()
	mux.Handle("/", service)
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })

	tc, err := triggersclientset.NewForConfig(cfg)
	if err != nil {
		logger.Fatalf("triggers client: %s", err)
	}
	server.CreateAndValidateCerts(ctx, kubeclient.Get(ctx).CoreV1(), logger, service, tc.TriggersV1alpha1())
	_ = server.UpdateCACertToClusterInterceptorCRD(ctx, service, tc.TriggersV1alpha1(), logger, time.Minute)

	tlsConfig, err := tlsconfig.LoadFromEnv().ToTLSConfig()
	if err != nil {
		logger.Fatalf("TLS configuration from env: %s", err)
	}
	tlsConfig.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return server.GetTLSData(ctx, logger)
	}
	srv := &http.Server{
		Addr:              *address,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       5 * time.Second,
		WriteTimeout:      20 * time.Second,
		IdleTimeout:       60 * time.Second,
		Handler:           mux,
		TLSConfig:         tlsConfig,
	}
	go func() {
		<-ctx.Done()
		srv.SetKeepAlivesEnabled(false)
		_ = srv.Shutdown(context.Background())
	}()
	logger.Infof("Listen and serve on %s", *address)
	if err := srv.ListenAndServeTLS("", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Fatalf("interceptors server: %v", err)
	}
}
