package nts

import (
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/timesync/internal/testpki"
)

type testPKI = testpki.PKI

func newPKI(t testing.TB) *testPKI { return testpki.New(t) }

func hostNow() int64 { return time.Now().UnixNano() }

func startServer(t testing.TB, p *testPKI, now func() int64) *Server {
	t.Helper()
	s, err := NewServer(ServerConfig{Certificate: p.Cert, Now: now, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newTestClient(t testing.TB, p *testPKI, addr string) *Client {
	t.Helper()
	c, err := NewClient(addr, ClientConfig{
		KEConfig: KEConfig{Roots: p.Roots, CertTime: time.Now},
		Now:      hostNow,
		Timeout:  3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
