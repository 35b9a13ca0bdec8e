// Command controller is agentline's controller: the GitHub webhook endpoint, the `agentline`
// Triggers ClusterInterceptor, the run queue, the GitHub status reporter and metrics. Every
// flag can also be set as AGENTLINE_<FLAG_IN_UPPER_SNAKE>; an explicit flag wins.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/agentline/agentline/pkg/controller"
	"github.com/tektoncd/pipeline/pkg/client/clientset/versioned"
	"go.uber.org/zap"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "controller:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("controller", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: in-cluster configuration)")
	systemNS := fs.String("system-namespace", envOr("SYSTEM_NAMESPACE", "agentline-system"), "namespace of the ConfigMap, slot Leases and leader Lease")
	configName := fs.String("config-name", "agentline-config", "name of the configuration ConfigMap")
	tokenFile := fs.String("github-token-file", "", "file holding the GitHub API token (a mounted Secret)")
	secretFile := fs.String("webhook-secret-file", "", "file holding the webhook secret (a mounted Secret)")
	webhookAddr := fs.String("webhook-addr", ":8080", "address of the GitHub webhook endpoint (empty: off)")
	interceptorAddr := fs.String("interceptor-addr", ":8443", "address of the ClusterInterceptor endpoint (empty: off)")
	tlsCert := fs.String("tls-cert-file", "", "certificate of the interceptor endpoint (with --tls-key-file: HTTPS)")
	tlsKey := fs.String("tls-key-file", "", "key of the interceptor endpoint")
	certSecret := fs.String("interceptor-cert-secret", "agentline-interceptor-certs",
		"without --tls-cert-file: Secret (system namespace) holding the interceptor's generated certificate, whose CA is written to the ClusterInterceptor (empty: plain HTTP)")
	certService := fs.String("interceptor-service", "agentline-controller", "Service the generated interceptor certificate is for")
	clusterInterceptor := fs.String("cluster-interceptor", "agentline", "ClusterInterceptor that gets the generated CA (empty: none)")
	metricsAddr := fs.String("metrics-addr", ":9090", "address of /metrics (empty: off)")
	probesAddr := fs.String("probes-addr", ":8081", "address of /healthz and /readyz (empty: off)")
	leaderElect := fs.Bool("leader-elect", true, "run the queue and the reporter only on the leader")
	statusInterval := fs.Duration("status-interval", 0, "shortest time between two status writes per issue (0: 2s)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	if err := applyEnv(fs); err != nil {
		return err
	}

	zl, err := zap.NewProduction()
	if err != nil {
		return err
	}
	defer func() { _ = zl.Sync() }()
	log := zl.Sugar().Named("agentline")

	cfg, err := restConfig(*kubeconfig)
	if err != nil {
		return err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	tekton, err := versioned.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("tekton client: %w", err)
	}
	c, err := controller.New(controller.Options{
		Kube: kube, Tekton: tekton, SystemNamespace: *systemNS, ConfigName: *configName,
		GitHubTokenFile: *tokenFile, WebhookSecretFile: *secretFile,
		LeaderElection: *leaderElect, StatusInterval: *statusInterval, Logger: log,
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 5)
	serve := func(name, addr string, h http.Handler, certFile, keyFile string, cert *tls.Certificate) {
		if addr == "" {
			return
		}
		srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
		if certFile != "" || cert != nil {
			srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if cert != nil {
			srv.TLSConfig.Certificates = []tls.Certificate{*cert}
		}
		go func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		go func() {
			log.Infow("serving", "endpoint", name, "addr", addr, "tls", srv.TLSConfig != nil)
			var err error
			if srv.TLSConfig != nil {
				err = srv.ListenAndServeTLS(certFile, keyFile)
			} else {
				err = srv.ListenAndServe()
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s endpoint on %s: %w", name, addr, err)
			}
		}()
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("--tls-cert-file and --tls-key-file go together")
	}
	var cert *tls.Certificate
	if *interceptorAddr != "" && *tlsCert == "" && *certSecret != "" {
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return fmt.Errorf("dynamic client: %w", err)
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		cert, err = controller.EnsureInterceptorCert(cctx, kube, dyn, controller.CertOptions{Namespace: *systemNS, Secret: *certSecret,
			Service: *certService, ClusterInterceptor: *clusterInterceptor})
		cancel()
		if err != nil {
			return err
		}
	}
	serve("webhook", *webhookAddr, c.WebhookHandler(), "", "", nil)
	serve("interceptor", *interceptorAddr, c.InterceptorHandler(), *tlsCert, *tlsKey, cert)
	serve("metrics", *metricsAddr, c.MetricsHandler(), "", "", nil)
	serve("probes", *probesAddr, c.ProbesHandler(), "", "", nil)
	go func() { errc <- c.Run(ctx) }()
	select {
	case err := <-errc:
		stop()
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	case <-ctx.Done():
	}
	return nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		c, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
		}
		return c, nil
	}
	c, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("in-cluster configuration (use --kubeconfig outside a cluster): %w", err)
	}
	return c, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// applyEnv sets every flag not given on the command line from AGENTLINE_<FLAG>.
func applyEnv(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		name := "AGENTLINE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, e)
			}
		}
	})
	return err
}
