package controller

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// Keys of the interceptor certificate Secret (Triggers' names).
const (
	CertKeyCA     = "ca-cert.pem"
	CertKeyServer = "server-cert.pem"
	CertKeyKey    = "server-key.pem"
)

// CertOptions locate the interceptor's serving certificate and its ClusterInterceptor.
type CertOptions struct {
	// Namespace and Secret hold the certificate (created when missing or expiring).
	Namespace, Secret string
	// Service is the Service name the certificate is for (DNS names service.namespace.svc...).
	Service string
	// ClusterInterceptor gets the CA in spec.clientConfig.caBundle ("" = none).
	ClusterInterceptor string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

var clusterInterceptors = schema.GroupVersionResource{Group: "triggers.tekton.dev", Version: "v1alpha1", Resource: "clusterinterceptors"}

// EnsureInterceptorCert returns the interceptor's serving certificate from the Secret,
// generating a CA and a certificate for the Service when the Secret is missing, incomplete or
// expires within 30 days, and writes the CA into the ClusterInterceptor's caBundle so the
// EventListener trusts it.
func EnsureInterceptorCert(ctx context.Context, kube kubernetes.Interface, dyn dynamic.Interface, o CertOptions) (*tls.Certificate, error) {
	now := time.Now()
	if o.Now != nil {
		now = o.Now()
	}
	secrets := kube.CoreV1().Secrets(o.Namespace)
	sec, err := secrets.Get(ctx, o.Secret, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("interceptor certificate Secret %s/%s: %w", o.Namespace, o.Secret, err)
	}
	exists := err == nil
	cert, ok := usable(sec, now)
	if !ok {
		data, err := generate(o, now)
		if err != nil {
			return nil, err
		}
		if exists {
			sec.Data = data
			sec, err = secrets.Update(ctx, sec, metav1.UpdateOptions{FieldManager: FieldManager})
		} else {
			sec, err = secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: o.Secret, Namespace: o.Namespace}, Data: data},
				metav1.CreateOptions{FieldManager: FieldManager})
		}
		if err != nil {
			return nil, fmt.Errorf("write interceptor certificate Secret %s/%s: %w", o.Namespace, o.Secret, err)
		}
		if cert, ok = usable(sec, now); !ok {
			return nil, fmt.Errorf("interceptor certificate Secret %s/%s: generated certificate unusable", o.Namespace, o.Secret)
		}
	}
	if o.ClusterInterceptor != "" && dyn != nil {
		patch := fmt.Sprintf(`{"spec":{"clientConfig":{"caBundle":%q}}}`, base64.StdEncoding.EncodeToString(sec.Data[CertKeyCA]))
		if _, err := dyn.Resource(clusterInterceptors).Patch(ctx, o.ClusterInterceptor, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
			return nil, fmt.Errorf("set caBundle of ClusterInterceptor %s: %w", o.ClusterInterceptor, err)
		}
	}
	return cert, nil
}

// FieldManager is the field manager of the controller's writes.
const FieldManager = "agentline"

func usable(sec *corev1.Secret, now time.Time) (*tls.Certificate, bool) {
	if sec == nil || len(sec.Data[CertKeyCA]) == 0 {
		return nil, false
	}
	c, err := tls.X509KeyPair(sec.Data[CertKeyServer], sec.Data[CertKeyKey])
	if err != nil {
		return nil, false
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil || now.Add(30*24*time.Hour).After(leaf.NotAfter) {
		return nil, false
	}
	return &c, true
}

func generate(o CertOptions, now time.Time) (map[string][]byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial := func() *big.Int {
		n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
		return n
	}
	ca := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "agentline-interceptor-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("interceptor CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	svc := o.Service + "." + o.Namespace
	leaf := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: svc + ".svc"},
		DNSNames:  []string{o.Service, svc, svc + ".svc", svc + ".svc.cluster.local"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(2 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("interceptor certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		CertKeyCA:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		CertKeyServer: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		CertKeyKey:    pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}, nil
}
