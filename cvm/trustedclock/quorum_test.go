package trustedclock

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"slices"
	"testing"
	"time"

	tsclock "github.com/cc-tsa/cc-tsa/timesync/clock"
	"github.com/cc-tsa/cc-tsa/timesync/nts"
)

// testCA is a throwaway CA issuing NTS-KE certificates for 127.0.0.1.
type testCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "trustedclock test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{key: key, cert: cert, pool: pool}
}

// server starts an NTS server whose clock is the host clock plus offset.
func (ca *testCA) server(t *testing.T, serial int64, offset time.Duration) *nts.Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial + 1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := nts.NewServer(nts.ServerConfig{
		Certificate: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		Now:         func() int64 { return time.Now().Add(offset).UnixNano() },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestQuorumOutvotesLiarAndCountsFailures(t *testing.T) {
	ca := newTestCA(t)
	honest1, honest2 := ca.server(t, 1, 0), ca.server(t, 2, 0)
	liar := ca.server(t, 3, 30*time.Second)
	servers := []string{honest1.KEAddr(), honest2.KEAddr(), liar.KEAddr()}
	c, err := New(Config{
		Servers: servers, Roots: ca.pool, Logger: quiet(), QueryTimeout: 300 * time.Millisecond, AccuracyQuantum: time.Microsecond,
		Health: tsclock.Config{AllowDevPlatform: true}, Platform: notSNP(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustSync(t, c)
	mustSync(t, c)
	r := checkAgainstHost(t, c) // the +30 s liar is out-voted
	if want := "NTS, 2 of 3 servers agreeing: "; len(r.Source) < len(want) || r.Source[:len(want)] != want {
		t.Fatalf("source %q", r.Source)
	}
	st := c.Status()
	if !st.Trusted || !slices.Equal(st.Falsetickers, []string{liar.KEAddr()}) {
		t.Fatalf("status %+v", st)
	}
	// One honest server silent: the remaining honest one and the liar do
	// not agree, so there is no quorum and no time.
	honest2.SetFaults(nts.Faults{Drop: true})
	if _, err := c.SyncOnce(context.Background()); err == nil {
		t.Fatal("sync without an agreeing quorum succeeded")
	}
	if r := c.Now(); r.Trusted {
		t.Fatalf("trusted without a quorum: %+v", r)
	}
	// Back: trusted again, the liar still out-voted.
	honest2.SetFaults(nts.Faults{})
	mustSync(t, c)
	checkAgainstHost(t, c)
	// The liar silent instead: two honest servers are a quorum of three.
	liar.SetFaults(nts.Faults{Drop: true})
	mustSync(t, c)
	checkAgainstHost(t, c)
}
