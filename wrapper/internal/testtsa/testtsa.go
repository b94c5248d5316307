// Package testtsa starts a complete single-oracle TSA inside a test: a real
// oracle (package cvm/oracle) serving the wire protocol on a unix socket, the
// development CA, the coordinator and the HTTP service. It exists for tests
// only; production wrappers talk to oracles in other processes or CVMs.
package testtsa

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/attest"
	"github.com/cc-tsa/cc-tsa/cvm/clock"
	"github.com/cc-tsa/cc-tsa/cvm/membership"
	"github.com/cc-tsa/cc-tsa/cvm/oracle"
	"github.com/cc-tsa/cc-tsa/cvm/transport"
	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/timesync/crosscheck"
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

// SetOffset makes the clock run off by d.
func (c *Clock) SetOffset(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = d
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
	if err := cl.Install(ctx, coordinator.InstallRequestFor(ec, mc)); err != nil {
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

// Cluster is a running threshold TSA: N oracles in this process, each on
// its own unix socket, after a full key ceremony.
type Cluster struct {
	TSA
	Oracles  []*oracle.Oracle
	Clocks   []*Clock
	Cancel   []context.CancelFunc // stops oracle i's server
	Ceremony *coordinator.CeremonyResult

	ctx        context.Context
	name       []byte
	log        *slog.Logger
	n, t, runs int
	dir        string
	cfg        ClusterConfig
}

// ClusterConfig configures StartClusterWith.
type ClusterConfig struct {
	Nodes, Threshold int
	// Attested gives every oracle a simulated SEV-SNP device (each with
	// its own random CHIP_ID) and makes the oracles and the coordinator
	// verify each other's evidence; without it nothing is attested.
	Attested bool
	// SilenceBeforeChange is the oracles' guard before a node index may
	// be replaced; 0 means one millisecond, so that tests can replace a
	// node they just stopped.
	SilenceBeforeChange time.Duration
	// Coordinator adjusts the coordinator's configuration.
	Coordinator []func(*coordinator.Config)
	// CrossCheck gives every oracle its side of the cross-node time check
	// (reading its test clock), so that tests can relay time-check rounds.
	// The verdicts go nowhere: they do not change whether a clock is
	// trusted, and the coordinator runs no rounds of its own.
	CrossCheck bool
}

// SimulatedMeasurement is the launch measurement the simulated oracles of
// an attested test cluster claim and require.
func SimulatedMeasurement() [attest.MeasurementSize]byte {
	var m [attest.MeasurementSize]byte
	copy(m[:], "cc-tsa test cluster: SIMULATED measurement")
	return m
}

// simAttestation is an oracle.Attester for attested test clusters: a
// simulated SEV-SNP device and a verifier pinned to SimulatedMeasurement.
// Evidence binds attest.ReportData(claim, "", nonce), as in cc-tsa node.
type simAttestation struct {
	dev *attest.Simulated // nil for the coordinator's check
	ver *attest.Verifier
}

func newSimAttestation(device bool) (*simAttestation, error) {
	roots, err := attest.SimulatedRoots()
	if err != nil {
		return nil, err
	}
	a := &simAttestation{}
	if a.ver, err = attest.NewVerifier(attest.Policy{Roots: roots, Measurement: SimulatedMeasurement()}); err != nil {
		return nil, err
	}
	if device {
		if a.dev, err = attest.NewSimulated(attest.SimulatedConfig{Measurement: SimulatedMeasurement()}); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a *simAttestation) Kind() wire.Attestation { return wire.AttestationSimulated }

func (a *simAttestation) Evidence(claim []byte, nonce [wire.NonceSize]byte) ([]byte, error) {
	ev, err := a.dev.Attest(attest.ReportData(claim, nil, nonce[:]))
	if err != nil {
		return nil, err
	}
	return ev.Marshal()
}

func (a *simAttestation) VerifyPeer(evidence, claim []byte, nonce [wire.NonceSize]byte) ([]byte, error) {
	ev, err := attest.UnmarshalEvidence(evidence)
	if err != nil {
		return nil, err
	}
	rep, err := a.ver.VerifyKeys(ev, claim, nil, nonce[:])
	if err != nil {
		return nil, err
	}
	return rep.ChipID[:], nil
}

// check is the coordinator's attestation check of an attested cluster.
func (a *simAttestation) check(h *wire.Hello, nonce [wire.NonceSize]byte) ([]byte, error) {
	if _, err := a.VerifyPeer(h.Evidence, membership.ClaimOf(h).Marshal(), nonce); err != nil {
		return nil, err
	}
	m := SimulatedMeasurement()
	return m[:], nil
}

// check returns the coordinator's attestation check for this cluster.
func (c *Cluster) check() coordinator.AttestationCheck {
	if !c.cfg.Attested {
		return noAttestation
	}
	a, err := newSimAttestation(false)
	if err != nil {
		return func(*wire.Hello, [wire.NonceSize]byte) ([]byte, error) { return nil, err }
	}
	return a.check
}

// startOracle starts a fresh oracle process-equivalent for node id on a
// new socket and returns a client for it. It replaces index id-1 of
// Oracles, Clocks and Cancel.
func (c *Cluster) startOracle(tb testing.TB, id int) *oracleclient.Client {
	clk := &Clock{trusted: true}
	ocfg := oracle.Config{TSAName: c.name, Clock: clk, Logger: c.log, NodeID: uint8(id), Nodes: uint8(c.n), Threshold: uint8(c.t),
		SilenceBeforeChange: c.cfg.SilenceBeforeChange}
	if ocfg.SilenceBeforeChange == 0 {
		ocfg.SilenceBeforeChange = time.Millisecond
	}
	if c.cfg.CrossCheck {
		var peers []crosscheck.NodeID
		for p := 1; p <= c.n; p++ {
			if p != id {
				peers = append(peers, crosscheck.NodeID(p))
			}
		}
		cc, err := crosscheck.New(crosscheck.Config{Self: crosscheck.NodeID(id), Peers: peers, Required: c.t - 1, Clock: func() (int64, int64, bool) {
			r := clk.Now()
			return r.Time.UnixNano(), int64(r.Accuracy), r.Trusted
		}})
		if err != nil {
			tb.Fatal(err)
		}
		ocfg.CrossCheck = cc
	}
	if c.cfg.Attested {
		a, err := newSimAttestation(true)
		if err != nil {
			tb.Fatal(err)
		}
		ocfg.Attester = a
	}
	o, err := oracle.New(ocfg)
	if err != nil {
		tb.Fatal(err)
	}
	c.runs++
	addr := "unix:" + filepath.Join(c.dir, fmt.Sprintf("o%d-%d.sock", id, c.runs))
	l, err := transport.Listen(addr)
	if err != nil {
		tb.Fatal(err)
	}
	octx, cancel := context.WithCancel(c.ctx)
	done := make(chan struct{})
	go func() { o.Serve(octx, l); o.Stop(); close(done) }()
	tb.Cleanup(func() { cancel(); <-done })
	cl, err := oracleclient.Dial(c.ctx, addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cl.Close() })
	if id <= len(c.Oracles) {
		c.Oracles[id-1], c.Clocks[id-1], c.Cancel[id-1] = o, clk, cancel
	} else {
		c.Oracles, c.Clocks, c.Cancel = append(c.Oracles, o), append(c.Clocks, clk), append(c.Cancel, cancel)
	}
	return cl
}

// Replace starts new oracles for the given node ids and has the
// coordinator hand them their shares.
func (c *Cluster) Replace(tb testing.TB, ids ...int) error {
	var reps []coordinator.Replacement
	for _, id := range ids {
		reps = append(reps, coordinator.Replacement{ID: uint8(id), Client: c.startOracle(tb, id)})
	}
	return c.Coordinator.Replace(c.ctx, reps, c.check(), coordinator.InstallRequestFor(c.ECDSACert, c.MLDSACert))
}

func noAttestation(*wire.Hello, [wire.NonceSize]byte) ([]byte, error) { return nil, nil }

// StartCluster starts n oracles with threshold t, runs the ceremony, issues
// certificates from the ceremony's CSRs and serves HTTP.
func StartCluster(tb testing.TB, n, t int, opts ...func(*coordinator.Config)) *Cluster {
	tb.Helper()
	return StartClusterWith(tb, ClusterConfig{Nodes: n, Threshold: t, Coordinator: opts})
}

// StartClusterWith is StartCluster configured by cfg.
func StartClusterWith(tb testing.TB, cfg ClusterConfig) *Cluster {
	tb.Helper()
	n, t, opts := cfg.Nodes, cfg.Threshold, cfg.Coordinator
	ctx, cancelAll := context.WithCancel(context.Background())
	tb.Cleanup(cancelAll)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	name, err := tst.EncodeName([][2]string{{"O", "CC-TSA"}, {"CN", "test cluster TSA"}})
	if err != nil {
		tb.Fatal(err)
	}
	c := &Cluster{ctx: ctx, name: name, log: log, n: n, t: t, dir: tb.TempDir(), cfg: cfg}
	var nodes []*coordinator.Node
	for i := 1; i <= n; i++ {
		cl := c.startOracle(tb, i)
		nodes = append(nodes, &coordinator.Node{Client: cl})
	}
	pollAll(ctx, nodes)
	res, err := coordinator.RunCeremony(ctx, coordinator.CeremonyConfig{
		Nodes: nodes, Threshold: t, Logger: log,
		Attest: c.check(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	c.Ceremony = res
	ca, err := devca.New("test")
	if err != nil {
		tb.Fatal(err)
	}
	ec, mc, err := ca.IssueFromCSRs(res.MLDSACSR, res.ECDSACSR, &devca.Evidence{Measurement: make([]byte, 48), TranscriptHash: res.TranscriptHash[:], Simulated: true})
	if err != nil {
		tb.Fatal(err)
	}
	if err := coordinator.InstallCertificates(ctx, nodes, coordinator.InstallRequestFor(ec, mc)); err != nil {
		tb.Fatal(err)
	}
	ccfg := coordinator.Config{Nodes: nodes, Threshold: t, ECDSACert: ec, MLDSACert: mc, Logger: log}
	for _, o := range opts {
		o(&ccfg)
	}
	coord, err := coordinator.New(ccfg)
	if err != nil {
		tb.Fatal(err)
	}
	coord.Poll(ctx)
	go coord.Run(ctx, 200*time.Millisecond)
	auditPath := filepath.Join(tb.TempDir(), "audit.log")
	al, err := audit.Open(auditPath, log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { al.Close() })
	srv := tsaserver.New(tsaserver.Config{Issuer: coord, CertsPEM: ca.RootsPEM(), Mode: "test cluster", Audit: al, Logger: log})
	hs := httptest.NewServer(srv)
	tb.Cleanup(hs.Close)
	c.TSA = TSA{Clock: c.Clocks[0], Coordinator: coord, Server: srv, HTTP: hs, CA: ca, ECDSACert: ec, MLDSACert: mc,
		Roots: []*x509.Certificate{ca.ECDSARoot, ca.MLDSARoot}, Audit: al, AuditPath: auditPath}
	return c
}

func pollAll(ctx context.Context, nodes []*coordinator.Node) {
	for _, n := range nodes {
		st, err := n.Client.Status(ctx)
		if err == nil {
			n.SetStatus(st)
		}
	}
}
