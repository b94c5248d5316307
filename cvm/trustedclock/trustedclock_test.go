package trustedclock

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	cvmclock "github.com/cc-tsa/cc-tsa/cvm/clock"
	"github.com/cc-tsa/cc-tsa/cvm/oracle"
	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	tsclock "github.com/cc-tsa/cc-tsa/timesync/clock"
	"github.com/cc-tsa/cc-tsa/timesync/nts"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// devServer starts the timesync development NTS server on loopback.
func devServer(t *testing.T) *nts.DevServer {
	t.Helper()
	d, err := nts.StartDevServer("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// notSNP is the platform report of an ordinary (development) machine.
func notSNP() *tsclock.Platform { return &tsclock.Platform{} }

func devClock(t *testing.T, d *nts.DevServer, mod func(*Config)) *Clock {
	t.Helper()
	cfg := Config{
		Servers:      []string{d.KEAddr()},
		Roots:        d.Roots,
		Logger:       quiet(),
		Development:  true,
		QueryTimeout: 300 * time.Millisecond, // protocol deadline for fault rounds, not a test bound
		// The exact bound, so that checks against the host clock are tight.
		AccuracyQuantum: time.Microsecond,
		Health:          tsclock.Config{AllowDevPlatform: true},
		Platform:        notSNP(),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func mustSync(t *testing.T, c *Clock) {
	t.Helper()
	if _, err := c.SyncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// checkAgainstHost asserts the reading's interval contains the host clock
// (which the development server serves, so it is the truth here).
func checkAgainstHost(t *testing.T, c *Clock) cvmclock.Reading {
	t.Helper()
	t0 := time.Now()
	r := c.Now()
	t1 := time.Now()
	if err := cvmclock.Check(r); err != nil {
		t.Fatalf("reading not usable: %v (%s)", err, r.Source)
	}
	if r.Time.Before(t0.Add(-r.Accuracy)) || r.Time.After(t1.Add(r.Accuracy)) {
		t.Fatalf("reading %v ± %v does not contain host time [%v, %v]", r.Time, r.Accuracy, t0, t1)
	}
	return r
}

func TestBecomesTrustedAfterTwoSyncs(t *testing.T) {
	d := devServer(t)
	c := devClock(t, d, nil)
	if r := c.Now(); r.Trusted || cvmclock.Check(r) == nil || !strings.Contains(r.Source, "untrusted") {
		t.Fatalf("fresh clock trusted: %+v", r)
	}
	mustSync(t, c)
	if r := c.Now(); r.Trusted {
		t.Fatalf("trusted after one sync: %+v", r)
	}
	mustSync(t, c)
	r := checkAgainstHost(t, c)
	for _, want := range []string{nts.DevLabel, d.KEAddr(), tsclock.LabelNotSecureTSC} {
		if !strings.Contains(r.Source, want) {
			t.Errorf("source %q lacks %q", r.Source, want)
		}
	}
	if r.Accuracy > time.Second {
		t.Errorf("loopback bound %v", r.Accuracy)
	}
	// Successive readings are strictly increasing.
	prev := r.Time
	for range 100 {
		r := c.Now()
		if !r.Time.After(prev) {
			t.Fatalf("reading %v not after %v", r.Time, prev)
		}
		prev = r.Time
	}
	st := c.Status()
	if !st.Trusted || st.Reason != "" || st.Bound <= 0 || !strings.HasPrefix(st.LastSync, "1 agreeing") || st.Quorum != 1 || len(st.Falsetickers) != 0 {
		t.Fatalf("status %+v", st)
	}
}

func TestProductionConfigOnDevMachineNeverTrusted(t *testing.T) {
	// Without AllowDevPlatform a machine that is not an SEV-SNP guest with
	// SecureTSC is never trusted, however good the NTS syncs are.
	d := devServer(t)
	c := devClock(t, d, func(cfg *Config) { cfg.Health.AllowDevPlatform = false; cfg.Development = false })
	for range 3 {
		mustSync(t, c)
	}
	r := c.Now()
	if r.Trusted || !strings.Contains(r.Source, "not an SEV-SNP guest") {
		t.Fatalf("production clock on a non-SNP machine: %+v", r)
	}
	if strings.Contains(r.Source, "development time source") || !strings.Contains(r.Source, "1 of 1 servers") {
		t.Fatalf("source %q", r.Source)
	}
	// An SEV-SNP guest without SecureTSC is refused even in development.
	bad := &tsclock.Platform{SEVSNP: true, Problems: []string{"SecureTSC not enabled"}}
	c2 := devClock(t, d, func(cfg *Config) { cfg.Platform = bad })
	for range 3 {
		mustSync(t, c2)
	}
	if r := c2.Now(); r.Trusted || !strings.Contains(r.Source, "SecureTSC not enabled") {
		t.Fatalf("unsound SEV-SNP platform: %+v", r)
	}
}

func TestWrongCANeverTrusted(t *testing.T) {
	d := devServer(t)
	other := devServer(t)
	c := devClock(t, d, func(cfg *Config) { cfg.Roots = other.Roots })
	for range 2 {
		_, err := c.SyncOnce(context.Background())
		var ua x509.UnknownAuthorityError
		if !errors.As(err, &ua) {
			t.Fatalf("sync with a foreign CA: %v", err)
		}
	}
	if r := c.Now(); r.Trusted || r.Accuracy != 0 || !r.Time.IsZero() {
		t.Fatalf("clock with an unauthenticated server: %+v", r)
	}
}

func TestConfigRejected(t *testing.T) {
	d := devServer(t)
	for name, cfg := range map[string]Config{
		"no servers": {Roots: d.Roots},
		"no roots":   {Servers: []string{d.KEAddr()}},
		"duplicate":  {Servers: []string{d.KEAddr(), d.KEAddr()}, Roots: d.Roots},
		"quorum":     {Servers: []string{d.KEAddr()}, Roots: d.Roots, Quorum: 2},
		"period":     {Servers: []string{d.KEAddr()}, Roots: d.Roots, Poll: -1},
	} {
		cfg.Logger, cfg.Platform = quiet(), notSNP()
		if c, err := New(cfg); err == nil {
			c.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}

func newOracle(t *testing.T, c cvmclock.Clock) *oracle.Oracle {
	t.Helper()
	name, err := tst.EncodeName([][2]string{{"CN", "trustedclock test"}})
	if err != nil {
		t.Fatal(err)
	}
	o, err := oracle.New(oracle.Config{TSAName: name, Clock: c, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Stop)
	ref := wire.CertInfo{Certificate: []byte{0x30, 0x01, 0x00}, Issuer: []byte{0x30, 0x00}, Serial: []byte{0x01}}
	if err := o.Install(&wire.InstallRequest{ECDSA: ref, MLDSA: ref}); err != nil {
		t.Fatal(err)
	}
	return o
}

func fields() *wire.TokenFields {
	return &wire.TokenFields{Policy: wire.PolicyHybrid, HashAlg: wire.SHA256, Imprint: make([]byte, 32), Nonce: []byte{1}}
}

func wantTimeNotAvailable(t *testing.T, o *oracle.Oracle, when string) {
	t.Helper()
	_, err := o.Propose(&wire.ProposeRequest{Signers: []uint8{1}, Fields: *fields()})
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeTimeNotAvailable {
		t.Fatalf("%s: Propose = %v, want timeNotAvailable", when, err)
	}
	if st := o.Status(); st.ClockTrusted || !strings.Contains(st.ClockSource, "untrusted") {
		t.Fatalf("%s: status %v %q", when, st.ClockTrusted, st.ClockSource)
	}
}

func wantProposal(t *testing.T, o *oracle.Oracle, c *Clock, when string) *wire.Proposal {
	t.Helper()
	t0 := time.Now()
	p, err := o.Propose(&wire.ProposeRequest{Signers: []uint8{1}, Fields: *fields()})
	t1 := time.Now()
	if err != nil {
		t.Fatalf("%s: Propose: %v", when, err)
	}
	g := time.Unix(p.GenTimeUnix, int64(p.GenTimeNanos))
	acc := time.Duration(p.AccuracyMicros) * time.Microsecond
	if acc <= 0 || g.Before(t0.Add(-acc-time.Microsecond)) || g.After(t1.Add(acc)) {
		t.Fatalf("%s: genTime %v ± %v outside host time [%v, %v]", when, g, acc, t0, t1)
	}
	if st := o.Status(); !st.ClockTrusted || !strings.Contains(st.ClockSource, nts.DevLabel) || st.ClockAccuracyMicros == 0 {
		t.Fatalf("%s: status %v %q %d", when, st.ClockTrusted, st.ClockSource, st.ClockAccuracyMicros)
	}
	return p
}

func TestOracleRefusesWhileUntrustedAndRecovers(t *testing.T) {
	d := devServer(t)
	c := devClock(t, d, nil)
	o := newOracle(t, c)

	wantTimeNotAvailable(t, o, "before any sync")
	mustSync(t, c)
	wantTimeNotAvailable(t, o, "after one sync")
	mustSync(t, c)
	wantProposal(t, o, c, "after two syncs")

	faults := []struct {
		name string
		f    nts.Faults
	}{
		{"server silent", nts.Faults{Drop: true}},
		{"responses tampered", nts.Faults{Tamper: func(b []byte) []byte { b = append([]byte(nil), b...); b[len(b)-1] ^= 1; return b }}},
		{"NTS NAK", nts.Faults{NAK: true, KECookies: -1}},
	}
	for _, f := range faults {
		d.SetFaults(f.f)
		if _, err := c.SyncOnce(context.Background()); err == nil {
			t.Fatalf("%s: sync succeeded", f.name)
		}
		wantTimeNotAvailable(t, o, f.name)
		d.SetFaults(nts.Faults{})
		mustSync(t, c)
		wantProposal(t, o, c, "recovered from "+f.name)
	}

	// The server goes away: the clock is untrusted until it is back.
	d.SetFaults(nts.Faults{Drop: true})
	d.Close()
	if _, err := c.SyncOnce(context.Background()); err == nil {
		t.Fatal("sync with a stopped server succeeded")
	}
	wantTimeNotAvailable(t, o, "server stopped")
}

func TestRestartedServerWithNewCertificateRefused(t *testing.T) {
	// A server that comes back on the same addresses under another
	// certificate is a different, untrusted server.
	d := devServer(t)
	c := devClock(t, d, nil)
	o := newOracle(t, c)
	mustSync(t, c)
	mustSync(t, c)
	wantProposal(t, o, c, "initially")
	ke, ntp := d.KEAddr(), d.NTPAddr()
	d.Close()
	if _, err := c.SyncOnce(context.Background()); err == nil {
		t.Fatal("sync with a stopped server succeeded")
	}
	wantTimeNotAvailable(t, o, "server stopped")
	d2, err := nts.StartDevServer(ke, ntp)
	if err != nil {
		t.Skipf("could not rebind %s/%s: %v", ke, ntp, err)
	}
	defer d2.Close()
	// The restarted dev server has a new self-signed certificate, which the
	// clock does not trust: it stays untrusted (a server is authenticated
	// by its pinned trust anchor, not by its address).
	if _, err := c.SyncOnce(context.Background()); err == nil {
		t.Fatal("sync with a server under an unknown certificate succeeded")
	}
	wantTimeNotAvailable(t, o, "server restarted with another certificate")
}

func TestRunAndWaitTrusted(t *testing.T) {
	d := devServer(t)
	c := devClock(t, d, func(cfg *Config) { cfg.Retry = 10 * time.Millisecond })
	o := newOracle(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	if err := c.WaitTrusted(ctx); err != nil {
		t.Fatal(err)
	}
	wantProposal(t, o, c, "Run")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	// Fail closed: once the sync loop is gone the clock is never trusted.
	wantTimeNotAvailable(t, o, "after Run returned")
	if err := c.WaitTrusted(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitTrusted after close = %v", err)
	}
	if _, err := c.SyncOnce(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("SyncOnce after close = %v", err)
	}
	if c.Status().Trusted {
		t.Fatal("closed clock reports trusted status")
	}
}

func TestWaitTrustedExplainsTimeout(t *testing.T) {
	d := devServer(t)
	c := devClock(t, d, nil)
	d.SetFaults(nts.Faults{Drop: true})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once a failed round has been recorded, so the error can name it.
		_, _ = c.SyncOnce(context.Background())
		cancel()
	}()
	err := c.WaitTrusted(ctx)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "last sync: failed") {
		t.Fatalf("WaitTrusted = %v", err)
	}
}

func TestRunRecoversAfterOutage(t *testing.T) {
	d := devServer(t)
	var changes = make(chan tsclock.State, 16)
	c := devClock(t, d, func(cfg *Config) {
		cfg.Retry = 10 * time.Millisecond
		cfg.Health.OnChange = func(_, to tsclock.State, _ string) {
			select {
			case changes <- to:
			default:
			}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	if err := c.WaitTrusted(ctx); err != nil {
		t.Fatal(err)
	}
	if s := <-changes; s != tsclock.Trusted {
		t.Fatalf("first transition to %v", s)
	}
	// An outage taints the clock at the next round; force one now.
	d.SetFaults(nts.Faults{Drop: true})
	_, _ = c.SyncOnce(ctx)
	if s := <-changes; s != tsclock.Untrusted {
		t.Fatalf("transition to %v during outage", s)
	}
	d.SetFaults(nts.Faults{})
	if err := c.WaitTrusted(ctx); err != nil {
		t.Fatal(err)
	}
	checkAgainstHost(t, c)
	cancel()
	<-done
}

func BenchmarkNow(b *testing.B) {
	d, err := nts.StartDevServer("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	c, err := New(Config{Servers: []string{d.KEAddr()}, Roots: d.Roots, Logger: quiet(), Development: true,
		Health: tsclock.Config{AllowDevPlatform: true}, Platform: notSNP()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for range 2 {
		if _, err := c.SyncOnce(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("Now", func(b *testing.B) {
		for b.Loop() {
			if !c.Now().Trusted {
				b.Fatal("untrusted")
			}
		}
	})
	b.Run("SyncOnce", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.SyncOnce(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestAccuracyQuantum(t *testing.T) {
	d := devServer(t)
	exact := devClock(t, d, func(cfg *Config) { cfg.AccuracyQuantum = time.Microsecond })
	coarse := devClock(t, d, func(cfg *Config) { cfg.AccuracyQuantum = 0 })
	for _, c := range []*Clock{exact, coarse} {
		mustSync(t, c)
		mustSync(t, c)
	}
	re, rc := exact.Now(), coarse.Now()
	if rc.Accuracy != DefaultAccuracyQuantum || re.Accuracy >= DefaultAccuracyQuantum || re.Accuracy <= 0 {
		t.Fatalf("exact %v, coarse %v", re.Accuracy, rc.Accuracy)
	}
	// The rounded bound is never below the health machine's bound.
	if b := time.Duration(coarse.Health().Read().Error); rc.Accuracy < b {
		t.Fatalf("rounded %v below bound %v", rc.Accuracy, b)
	}
	for _, tc := range []struct{ d, q, want time.Duration }{
		{1, 10, 10}, {10, 10, 10}, {11, 10, 20}, {0, 10, 0}, {7, 1, 7}, {7, 0, 7},
	} {
		if got := roundUp(tc.d, tc.q); got != tc.want {
			t.Errorf("roundUp(%v, %v) = %v", tc.d, tc.q, got)
		}
	}
}
