package controller

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
)

func TestEnsureInterceptorCert(t *testing.T) {
	ctx := context.Background()
	ci := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "triggers.tekton.dev/v1alpha1", "kind": "ClusterInterceptor",
		"metadata": map[string]any{"name": "agentline"}, "spec": map[string]any{"clientConfig": map[string]any{}}}}
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{clusterInterceptors: "ClusterInterceptorList"}, ci)
	kube := kubefake.NewSimpleClientset()
	o := CertOptions{Namespace: sysNS, Secret: "agentline-interceptor-certs", Service: "agentline-controller", ClusterInterceptor: "agentline"}
	cert, err := EnsureInterceptorCert(ctx, kube, dyn, o)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := kube.CoreV1().Secrets(sysNS).Get(ctx, o.Secret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The served certificate verifies against the CA written to the ClusterInterceptor.
	got, err := dyn.Resource(clusterInterceptors).Get(ctx, "agentline", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bundle, _, _ := unstructured.NestedString(got.Object, "spec", "clientConfig", "caBundle")
	caPEM, err := base64.StdEncoding.DecodeString(bundle)
	if err != nil || string(caPEM) != string(sec.Data[CertKeyCA]) {
		t.Fatalf("caBundle does not hold the Secret's CA: %v", err)
	}
	pool := x509.NewCertPool()
	blk, _ := pem.Decode(caPEM)
	caCert, _ := x509.ParseCertificate(blk.Bytes)
	pool.AddCert(caCert)
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "agentline-controller.agentline-system.svc"}); err != nil {
		t.Fatalf("certificate does not verify for the Service: %v", err)
	}
	// A second start reuses the Secret; one close to expiry is renewed.
	again, err := EnsureInterceptorCert(ctx, kube, dyn, o)
	if err != nil || string(again.Certificate[0]) != string(cert.Certificate[0]) {
		t.Fatalf("second start did not reuse the certificate: %v", err)
	}
	o.Now = func() time.Time { return time.Now().Add(2*365*24*time.Hour - 24*time.Hour) }
	renewed, err := EnsureInterceptorCert(ctx, kube, dyn, o)
	if err != nil || string(renewed.Certificate[0]) == string(cert.Certificate[0]) {
		t.Fatalf("expiring certificate not renewed: %v", err)
	}
}
