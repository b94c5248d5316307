package anchor

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/timesync/clock"
	"github.com/cc-tsa/cc-tsa/timesync/internal/testpki"
	"github.com/cc-tsa/cc-tsa/timesync/interval"
	"github.com/cc-tsa/cc-tsa/timesync/nts"
)

// scaledMono is a monotonic clock running at factor × real time: a host
// that scales the guest TSC (what SecureTSC prevents).
type scaledMono struct {
	start  int64
	factor float64
}

func (s scaledMono) Now() int64 {
	r := clock.RawMonotonic{}.Now()
	return s.start + int64(float64(r-s.start)*s.factor)
}

type fixture struct {
	servers []*nts.Server
	health  *clock.Health
	anchor  *Anchor
}

// setup starts one of our NTS servers per clock in serverClocks and an anchor
// over them whose node clock is mono.
func setup(t *testing.T, mono clock.Monotonic, serverClocks ...func() int64) *fixture {
	t.Helper()
	p := testpki.New(t)
	cert, roots := p.Cert, p.Roots
	f := &fixture{}
	h, err := clock.NewHealth(clock.Config{AllowDevPlatform: true, ReferenceBase: time.Now().UnixNano() - mono.Now()},
		mono, &clock.Platform{Clocksource: "test"})
	if err != nil {
		t.Fatal(err)
	}
	f.health = h
	var srcs []Source
	for i, now := range serverClocks {
		s, err := nts.NewServer(nts.ServerConfig{Certificate: cert, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		f.servers = append(f.servers, s)
		c, err := nts.NewClient(s.KEAddr(), nts.ClientConfig{
			KEConfig: nts.KEConfig{Roots: roots, CertTime: h.CertTime},
			Now:      h.Reference, Timeout: 3 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		srcs = append(srcs, Source{Name: string(rune('a' + i)), Client: c})
	}
	f.anchor, err = New(srcs, h, 0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func hostNow() int64 { return time.Now().UnixNano() }

func TestLiarOutvotedAndClockTrusted(t *testing.T) {
	liar := func() int64 { return hostNow() + 30e9 }
	f := setup(t, clock.RawMonotonic{}, hostNow, liar, hostNow)
	for i := 0; i < 2; i++ {
		rep, err := f.anchor.SyncOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rep.Falsetickers(), []string{"b"}) {
			t.Fatalf("falsetickers %v", rep.Falsetickers())
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := f.health.Read()
	if !r.Trusted() {
		t.Fatalf("not trusted: %s", r.Reason)
	}
	// The node's UTC estimate agrees with the honest servers (the host clock)
	// within its own error bound, plus a little for the read itself.
	if d := r.Time - hostNow(); d > r.Error+5e6 || d < -r.Error-5e6 {
		t.Fatalf("estimate off by %d ns, error bound %d", d, r.Error)
	}
	if r.Label != clock.LabelNotSecureTSC {
		t.Fatalf("label %q", r.Label)
	}
}

func TestNoMajorityNoTime(t *testing.T) {
	f := setup(t, clock.RawMonotonic{}, hostNow, func() int64 { return hostNow() + 30e9 }, func() int64 { return hostNow() - 30e9 })
	_, err := f.anchor.SyncOnce(context.Background())
	if !errors.Is(err, interval.ErrNoMajority) {
		t.Fatalf("got %v", err)
	}
	if r := f.health.Read(); r.Trusted() {
		t.Fatal("trusted without a majority")
	}
}

// A host that runs the node's monotonic clock 2 % fast is detected by the
// rate check against honest NTS servers.
func TestFastLocalClockUntrusted(t *testing.T) {
	mono := scaledMono{start: clock.RawMonotonic{}.Now(), factor: 1.02}
	f := setup(t, mono, hostNow, hostNow, hostNow)
	var last *Report
	for i := 0; i < 6; i++ {
		rep, err := f.anchor.SyncOnce(context.Background())
		if err != nil && !errors.Is(err, interval.ErrNoMajority) {
			t.Fatal(err)
		}
		last = rep
		time.Sleep(100 * time.Millisecond)
	}
	r := f.health.Read()
	if r.Trusted() {
		t.Fatalf("clock running 2 %% fast is trusted (rate %+v)", last.Rate)
	}
	if !strings.Contains(r.Reason, "rate") && !strings.Contains(r.Reason, "step") {
		t.Fatalf("untrusted for the wrong reason: %s", r.Reason)
	}
	if last.Rate == nil || last.Rate.Within(50e-6) {
		t.Fatalf("rate estimate %+v should exclude ±50 ppm", last.Rate)
	}
}

// One server whose clock runs fast (a rate attack) drifts away from the
// others and is out-voted as soon as its lie exceeds its interval.
func TestRateAttackingServerOutvoted(t *testing.T) {
	start := hostNow()
	fast := func() int64 { n := hostNow(); return n + (n-start)/20 } // +5 %
	f := setup(t, clock.RawMonotonic{}, hostNow, fast, hostNow)
	time.Sleep(300 * time.Millisecond) // the attacker is now ≥ 15 ms ahead
	rep, err := f.anchor.SyncOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Falsetickers(), []string{"b"}) {
		t.Fatalf("falsetickers %v, sources %+v", rep.Falsetickers(), rep.Sources)
	}
}

// Delaying every reply (a network delay attack) widens the interval; the
// reported accuracy grows with it and stays honest.
func TestDelayAttackAccuracyHonest(t *testing.T) {
	f := setup(t, clock.RawMonotonic{}, hostNow, hostNow, hostNow)
	for _, s := range f.servers {
		s.SetFaults(nts.Faults{ReturnDelay: 80 * time.Millisecond})
	}
	for i := 0; i < 2; i++ {
		if _, err := f.anchor.SyncOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	r := f.health.Read()
	if !r.Trusted() {
		t.Fatalf("%s", r.Reason)
	}
	if r.Error < 40e6 || r.AccuracyMicros < 40_000 {
		t.Fatalf("error %d ns / accuracy %d µs under an 80 ms delay attack", r.Error, r.AccuracyMicros)
	}
	if d := r.Time - hostNow(); d > r.Error || d < -r.Error {
		t.Fatalf("truth outside reported accuracy: off by %d, error %d", d, r.Error)
	}
	g, err := f.health.GenTime()
	if err != nil || g.AccuracyMicros < 40_000 {
		t.Fatalf("genTime %+v %v", g, err)
	}
}

func TestRunPolls(t *testing.T) {
	f := setup(t, clock.RawMonotonic{}, hostNow, hostNow, hostNow)
	ctx, cancel := context.WithCancel(context.Background())
	var reports int
	err := f.anchor.Run(ctx, 10*time.Millisecond, func(r *Report) {
		if r.Err != nil {
			t.Errorf("round failed: %v", r.Err)
		}
		if reports++; reports == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || reports != 3 {
		t.Fatalf("%v after %d reports", err, reports)
	}
	if !f.health.Read().Trusted() {
		t.Fatal(f.health.Read().Reason)
	}
	if r, err := f.anchor.SyncOnce(context.Background()); err != nil || r.Rate == nil {
		t.Fatalf("no rate estimate after several rounds: %v", err)
	}
	// A cancelled round (shutdown) is no evidence about time: no taint.
	if _, err := f.anchor.SyncOnce(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled round: %v", err)
	}
	if !f.health.Read().Trusted() {
		t.Fatalf("cancelled round tainted the clock: %s", f.health.Read().Reason)
	}
	// Servers that stop answering (an expired deadline) are evidence: taint.
	for _, s := range f.servers {
		s.SetFaults(nts.Faults{Drop: true})
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer dcancel()
	if _, err := f.anchor.SyncOnce(dctx); !errors.Is(err, interval.ErrNoMajority) {
		t.Fatalf("silent servers: %v", err)
	}
	if f.health.Read().Trusted() {
		t.Fatal("trusted although no server answered")
	}
}

// The rate history keeps its span when it is thinned: at the untrusted
// retry period (2 s) the design's 15-minute rate span must be reachable,
// which a plain cap of maxHistory newest points (256 s) never allows. It is
// bounded in points and in time (RateWindow).
func TestRateHistorySpan(t *testing.T) {
	var h []interval.Point
	const step = int64(2 * time.Second)
	for i := int64(1); i <= 3600; i++ { // two hours at 2 s
		h = addPoint(h, interval.Point{Mono: i * step, Offset: interval.Around(0, 1e6)})
		if len(h) > maxHistory {
			t.Fatalf("after %d points: %d in the history", i, len(h))
		}
		for j := 1; j < len(h); j++ {
			if h[j].Mono <= h[j-1].Mono {
				t.Fatalf("history out of order at %d", j)
			}
		}
		span := h[len(h)-1].Mono - h[0].Mono
		if span > int64(RateWindow) {
			t.Fatalf("after %d points: span %v beyond the window", i, time.Duration(span))
		}
		if want := min((i-1)*step, int64(RateWindow)-int64(time.Minute)); span < want {
			t.Fatalf("after %d points: span %v, want ≥ %v", i, time.Duration(span), time.Duration(want))
		}
	}
	r, err := interval.EstimateRate(h)
	if err != nil || r.Span < int64(15*time.Minute) {
		t.Fatalf("rate %+v %v", r, err)
	}
	// A point not after the newest restarts the history.
	if h = addPoint(h, interval.Point{Mono: 1}); len(h) != 1 {
		t.Fatalf("history not restarted: %d points", len(h))
	}
	// Points older than the window go, but the two newest always stay.
	h = addPoint(addPoint(nil, interval.Point{Mono: 1}), interval.Point{Mono: 2 + int64(RateWindow)})
	if len(h) != 2 {
		t.Fatalf("%d points", len(h))
	}
	if h = addPoint(h, interval.Point{Mono: 3 + int64(RateWindow)}); len(h) != 2 || h[0].Mono != 2+int64(RateWindow) {
		t.Fatalf("old point kept: %+v", h)
	}
}
