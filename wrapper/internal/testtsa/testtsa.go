// Package testtsa starts a complete single-oracle TSA inside a test: a real
// oracle (package cvm/oracle) serving the wire protocol on a unix socket, the
// development CA, the coordinator and the HTTP service. It exists for tests
// only; production wrappers talk to oracles in other processes or CVMs.
package testtsa

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/clock"
	"github.com/cc-tsa/cc-tsa/cvm/oracle"
	"github.com/cc-tsa/cc-tsa/cvm/transport"
	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/audit"
	"github.com/cc-tsa/cc-tsa/wrapper/coordinator"
	"github.com/cc-tsa/cc-tsa/wrapper/devca"
	"github.com/cc-tsa/cc-tsa/wrapper/oracleclient"
	"github.com/cc-tsa/cc-tsa/wrapper/tsaserver"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify"

	"crypto/x509"
)

// Clock is a test clock: host time plus an offset, trusted or not.
type Clock struct {
	mu      sync.Mutex
	offset  time.Duration
	trusted bool
}

// Now implements clock.Clock.
func (c *Clock) Now() clock.Reading {
	c.mu.Lock()
	defer c.mu.Unlock()
	return clock.Reading{Time: time.Now().Add(c.offset), Accuracy: 50 * time.Millisecond, Trusted: c.trusted, Source: "test clock"}
}

// SetTrusted marks the clock trusted or not.
func (c *Clock) SetTrusted(v bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trusted = v
}

// TSA is a running test TSA.
type TSA struct {
	Oracle      *oracle.Oracle
	Clock       *Clock
	Coordinator *coordinator.Coordinator
	Server      *tsaserver.Server
	HTTP        *httptest.Server
	CA          *devca.CA
	ECDSACert   *x509.Certificate
	MLDSACert   *x509.Certificate
	Roots       []*x509.Certificate
	Audit       *audit.Log
	AuditPath   string
}

// Start starts a TSA that is stopped when the test ends.
func Start(t testing.TB) *TSA {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clk := &Clock{trusted: true}
	name, err := tst.EncodeName([][2]string{{"O", "CC-TSA"}, {"CN", "test TSA (NOT THRESHOLD)"}})
	if err != nil {
		t.Fatal(err)
	}
	o, err := oracle.New(oracle.Config{TSAName: name, Clock: clk, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	addr := "unix:" + filepath.Join(t.TempDir(), "oracle.sock")
	l, err := transport.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { o.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	cl, err := oracleclient.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	st, err := cl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := devca.New("test")
	if err != nil {
		t.Fatal(err)
	}
	ec, mc, err := ca.IssueTSA(&devca.Subject{Name: st.TSAName, ECDSAPublicKey: st.ECDSAPublicKey, MLDSAPublicKey: st.MLDSAPublicKey, ECDSAKeyID: st.ECDSAKeyID, MLDSAKeyID: st.MLDSAKeyID})
	if err != nil {
		t.Fatal(err)
	}
	ref := func(c *x509.Certificate) wire.CertInfo {
		s := c.SerialNumber.Bytes()
		if s[0]&0x80 != 0 {
			s = append([]byte{0}, s...)
		}
		return wire.CertInfo{Certificate: c.Raw, Issuer: c.RawIssuer, Serial: s}
	}
	if err := cl.Install(ctx, &wire.InstallRequest{ECDSA: ref(ec), MLDSA: ref(mc)}); err != nil {
		t.Fatal(err)
	}
	node := &coordinator.Node{Client: cl}
	coord, err := coordinator.New(coordinator.Config{Nodes: []*coordinator.Node{node}, Threshold: 1, ECDSACert: ec, MLDSACert: mc, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	coord.Poll(ctx)
	auditPath := filepath.Join(t.TempDir(), "audit.log")
	al, err := audit.Open(auditPath, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { al.Close() })
	srv := tsaserver.New(tsaserver.Config{Issuer: coord, CertsPEM: ca.RootsPEM(), Mode: "test, NOT THRESHOLD", Audit: al, Logger: log})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &TSA{Oracle: o, Clock: clk, Coordinator: coord, Server: srv, HTTP: hs, CA: ca, ECDSACert: ec, MLDSACert: mc, Roots: []*x509.Certificate{ca.ECDSARoot, ca.MLDSARoot}, Audit: al, AuditPath: auditPath}
}

// Options returns verification options trusting the TSA's roots.
func (s *TSA) Options() *tsverify.Options {
	return &tsverify.Options{Roots: s.Roots, Certs: []*x509.Certificate{s.ECDSACert, s.MLDSACert}}
}
