package nts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// DevLabel labels time served by a development server: the host clock,
// unauthenticated by anything but a throwaway certificate.
const DevLabel = "development time source (host clock, self-signed NTS-KE certificate; not trusted time)"

// DevServer is an NTS server on loopback serving the host clock, for
// `cc-tsa dev` so the embedded default works offline. Roots/CAPEM hold its
// self-signed certificate (the only trust anchor for it); Label says what it is.
type DevServer struct {
	*Server
	Roots *x509.CertPool
	CAPEM []byte
	Label string
}

// StartDevServer generates a self-signed certificate for 127.0.0.1 and
// localhost (valid one day either side of now, by the host clock) and starts
// a server on keAddr/ntpAddr (both must be loopback addresses; empty means
// 127.0.0.1:0).
func StartDevServer(keAddr, ntpAddr string) (*DevServer, error) {
	for _, a := range []string{keAddr, ntpAddr} {
		if a == "" {
			continue
		}
		h, _, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("nts: dev server address %q: %w", a, err)
		}
		if ip := net.ParseIP(h); ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("nts: dev server must listen on loopback, not %q", a)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "cc-tsa development NTS server"},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("nts: dev certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	s, err := NewServer(ServerConfig{
		KEAddr: keAddr, NTPAddr: ntpAddr,
		Certificate: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert},
		Now:         func() int64 { return time.Now().UnixNano() },
	})
	if err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &DevServer{Server: s, Roots: roots, Label: DevLabel,
		CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}
