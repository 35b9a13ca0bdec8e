package stack

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"
)

// pki holds the stack's credentials: the admin token, the service-account signing key and a CA
// with a serving certificate for the Triggers interceptors.
type pki struct {
	Token      string
	SAKey      string // path
	SAPub      string // path
	TokenFile  string // path (tokens.csv)
	CACert     []byte // PEM
	ServerCert []byte // PEM, SANs 127.0.0.1 and localhost
	ServerKey  []byte // PEM
}

// ensurePKI creates the credentials once and reuses them on later runs.
func (c Config) ensurePKI() (*pki, error) {
	dir := c.path("pki")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &pki{SAKey: c.path("pki", "sa.key"), SAPub: c.path("pki", "sa.pub"), TokenFile: c.path("pki", "tokens.csv")}
	if b, err := os.ReadFile(p.TokenFile); err == nil {
		p.Token = strings.SplitN(string(b), ",", 2)[0]
	} else {
		buf := make([]byte, 24)
		if _, err := rand.Read(buf); err != nil {
			return nil, err
		}
		p.Token = hex.EncodeToString(buf)
		line := p.Token + ",admin,admin-uid,system:masters\n"
		if err := os.WriteFile(p.TokenFile, []byte(line), 0o600); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(p.SAKey); err != nil {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			return nil, err
		}
		if err := writePEM(p.SAKey, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key)); err != nil {
			return nil, err
		}
		if err := writePEM(p.SAPub, "PUBLIC KEY", pub); err != nil {
			return nil, err
		}
	}
	caPath, certPath, keyPath := c.path("pki", "ca.crt"), c.path("pki", "server.crt"), c.path("pki", "server.key")
	if _, err := os.Stat(keyPath); err != nil {
		if err := generateServing(caPath, certPath, keyPath); err != nil {
			return nil, fmt.Errorf("serving certificates: %w", err)
		}
	}
	var err error
	if p.CACert, err = os.ReadFile(caPath); err != nil {
		return nil, err
	}
	if p.ServerCert, err = os.ReadFile(certPath); err != nil {
		return nil, err
	}
	if p.ServerKey, err = os.ReadFile(keyPath); err != nil {
		return nil, err
	}
	return p, nil
}

func generateServing(caPath, certPath, keyPath string) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "agentline-stack-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "tekton-triggers-core-interceptors"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost", "tekton-triggers-core-interceptors",
			"tekton-triggers-core-interceptors.tekton-pipelines.svc", "tekton-triggers-core-interceptors.tekton-pipelines.svc.cluster.local"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(caPath, "CERTIFICATE", caDER); err != nil {
		return err
	}
	if err := writePEM(certPath, "CERTIFICATE", der); err != nil {
		return err
	}
	return writePEM(keyPath, "PRIVATE KEY", keyDER)
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
