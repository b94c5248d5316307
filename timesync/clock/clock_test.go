package clock

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/timesync/interval"
)

// fakeMono is a manually advanced monotonic clock.
type fakeMono struct{ t atomic.Int64 }

func (f *fakeMono) Now() int64              { return f.t.Load() }
func (f *fakeMono) Advance(d time.Duration) { f.t.Add(int64(d)) }

type fakeProbe struct {
	clocksource string
	msr         uint64
	msrErr      error
	log         string
	logErr      error
}

func (p fakeProbe) ReadFile(name string) ([]byte, error) {
	if name != clocksourcePath {
		return nil, errors.New("unexpected file")
	}
	return []byte(p.clocksource + "\n"), nil
}
func (p fakeProbe) ReadMSR(reg uint32) (uint64, error) {
	if reg != msrSEVStatus {
		return 0, errors.New("unexpected MSR")
	}
	return p.msr, p.msrErr
}
func (p fakeProbe) KernelLog() (string, error) { return p.log, p.logErr }

const snpLogTSC = "6,123,456,-;SEV: Status: SEV SEV-ES SEV-SNP DebugSwap SecureTSC\n"
const snpLogNoTSC = "6,123,456,-;SEV: Status: SEV SEV-ES SEV-SNP DebugSwap\n"

func TestCheckPlatform(t *testing.T) {
	noMSR := errors.New("no msr")
	for _, tc := range []struct {
		name         string
		p            fakeProbe
		snp, tsc, ok bool
	}{
		{"snp-securetsc-msr-and-log", fakeProbe{clocksource: "tsc", msr: 0x807, log: snpLogTSC}, true, true, true},
		{"snp-securetsc-log-only", fakeProbe{clocksource: "tsc", msrErr: noMSR, log: snpLogTSC}, true, true, true},
		{"snp-securetsc-msr-only", fakeProbe{clocksource: "tsc", msr: 0x807, logErr: noMSR}, true, true, true},
		{"snp-kvm-clock", fakeProbe{clocksource: "kvm-clock", msr: 0x807, log: snpLogTSC}, true, true, false},
		{"snp-no-securetsc", fakeProbe{clocksource: "tsc", msr: 0x7, log: snpLogNoTSC}, true, false, false},
		{"msr-log-disagree", fakeProbe{clocksource: "tsc", msr: 0x7, log: snpLogTSC}, true, false, false},
		{"not-snp", fakeProbe{clocksource: "tsc", msr: 0, log: "boring kernel\n"}, false, false, false},
		{"nothing-readable", fakeProbe{clocksource: "tsc", msrErr: noMSR, logErr: noMSR}, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := CheckPlatform(tc.p)
			if p.SEVSNP != tc.snp || p.SecureTSC != tc.tsc || p.Sound() != tc.ok {
				t.Fatalf("%+v", p)
			}
			if (p.Err() != nil) != (tc.snp && !tc.ok) || (p.Err() != nil && !errors.Is(p.Err(), ErrPlatform)) {
				t.Fatalf("Err() = %v", p.Err())
			}
			if tc.ok != (p.Label() == LabelSecureTSC) {
				t.Fatalf("label %q", p.Label())
			}
		})
	}
}

func TestHostPlatformIsLabelledHonestly(t *testing.T) {
	p := CheckPlatform(HostProbe{})
	t.Logf("host platform: %+v label %q", p, p.Label())
	if p.Sound() != (p.SEVSNP && p.SecureTSC && p.Clocksource == "tsc") {
		t.Fatal("inconsistent platform report")
	}
	m, err := NewRawMonotonic()
	if err != nil {
		t.Fatal(err)
	}
	a := m.Now()
	b := m.Now()
	if b < a {
		t.Fatal("CLOCK_MONOTONIC_RAW went backwards")
	}
}

var devPlatform = &Platform{Clocksource: "tsc"}
var soundPlatform = &Platform{SEVSNP: true, SecureTSC: true, Clocksource: "tsc"}

func newHealth(t *testing.T, cfg Config, plat *Platform) (*Health, *fakeMono) {
	t.Helper()
	m := &fakeMono{}
	m.t.Store(1e12)
	cfg.ReferenceBase = 1_700_000_000e9
	h, err := NewHealth(cfg, m, plat)
	if err != nil {
		t.Fatal(err)
	}
	return h, m
}

func quorum(mid, half int64) interval.Result {
	return interval.Result{Interval: interval.Around(mid, half), Quorum: 2}
}

func TestHealthLifecycle(t *testing.T) {
	var changes []string
	h, m := newHealth(t, Config{AllowDevPlatform: true, OnChange: func(from, to State, reason string) {
		changes = append(changes, from.String()+"→"+to.String())
	}}, devPlatform)
	if r := h.Read(); r.Trusted() || r.Reason != "no NTS sync yet" {
		t.Fatalf("%+v", r)
	}
	if _, err := h.GenTime(); !errors.Is(err, ErrUntrusted) {
		t.Fatal("signed without time")
	}
	m.Advance(time.Second)
	h.ObserveNTS(quorum(5e6, 2e6), m.Now())
	if h.Read().Trusted() {
		t.Fatal("trusted after a single sync")
	}
	m.Advance(10 * time.Second)
	h.ObserveNTS(quorum(5.1e6, 2e6), m.Now())
	r := h.Read()
	if !r.Trusted() {
		t.Fatalf("not trusted after two consistent syncs: %s", r.Reason)
	}
	// The anchor is the intersection of the new interval with the prediction
	// ([3e6, 7e6] widened by 50 ppm × 10 s): [3.1e6, 7.1e6].
	if want := int64(1_700_000_000e9) + m.Now() + 5_100_000; r.Time != want {
		t.Fatalf("time %d want %d", r.Time, want)
	}
	if r.Error < 2_000_000 || r.AccuracyMicros != (r.Error+999)/1000 || r.Label != LabelNotSecureTSC {
		t.Fatalf("%+v", r)
	}
	// Error grows with elapsed monotonic time at MaxRate.
	m.Advance(20 * time.Second)
	r2 := h.Read()
	if grow := r2.Error - r.Error; grow < 20e9*50e-6-2 || grow > 20e9*50e-6+2 {
		t.Fatalf("error grew by %d over 20 s", grow)
	}
	// GenTime is strictly increasing even without monotonic progress.
	g1, err := h.GenTime()
	if err != nil {
		t.Fatal(err)
	}
	g2, _ := h.GenTime()
	if g2.Time < g1.Time+1000 || g2.Error < g1.Error {
		t.Fatalf("genTime %d then %d", g1.Time, g2.Time)
	}
	// Self-taint after SelfTaintPeriod (60 s) of trust; fresh NTS restores.
	m.Advance(45 * time.Second)
	if r := h.Read(); r.Trusted() || !strings.Contains(r.Reason, "self-taint") {
		t.Fatalf("no self-taint: %+v", r)
	}
	m.Advance(time.Millisecond) // the next NTS measurement happens after the taint
	h.ObserveNTS(quorum(5.1e6, 2e6), m.Now())
	if !h.Read().Trusted() {
		t.Fatal("fresh NTS did not restore trust after self-taint")
	}
	// A step (result inconsistent with the prediction) taints and needs a
	// further consistent sync.
	m.Advance(time.Second)
	h.ObserveNTS(quorum(900e6, 1e6), m.Now())
	if r := h.Read(); r.Trusted() || !strings.Contains(r.Reason, "step") {
		t.Fatalf("step accepted: %+v", r)
	}
	m.Advance(time.Second)
	h.ObserveNTS(quorum(900e6, 1e6), m.Now())
	if !h.Read().Trusted() {
		t.Fatal("not trusted after step confirmed")
	}
	// No majority → no time.
	h.ObserveNTSFailure(interval.ErrNoMajority)
	if r := h.Read(); r.Trusted() || !strings.Contains(r.Reason, "NTS") {
		t.Fatalf("%+v", r)
	}
	// Stale sync → untrusted.
	h.ObserveNTS(quorum(900e6, 1e6), m.Now())
	m.Advance(6 * time.Minute)
	if r := h.Read(); r.Trusted() {
		t.Fatalf("trusted with a stale sync: %+v", r)
	}
	if len(changes) < 6 || changes[0] != "untrusted→trusted" {
		t.Fatalf("changes %v", changes)
	}
}

func TestHealthRateAndError(t *testing.T) {
	h, m := newHealth(t, Config{AllowDevPlatform: true, MaxError: 10 * time.Millisecond}, devPlatform)
	h.ObserveNTS(quorum(0, 1e6), m.Now())
	m.Advance(time.Second)
	h.ObserveNTS(quorum(0, 1e6), m.Now())
	if !h.Read().Trusted() {
		t.Fatal(h.Read().Reason)
	}
	h.ObserveRate(interval.Rate{Rate: 1e-3, Lo: 0.9e-3, Hi: 1.1e-3, Span: 1e9, N: 10})
	if r := h.Read(); r.Trusted() || !strings.Contains(r.Reason, "rate") {
		t.Fatalf("fast clock trusted: %+v", r)
	}
	h.ObserveRate(interval.Rate{Rate: 1e-6, Lo: -1e-5, Hi: 1e-5, Span: 1e9, N: 10})
	h.ObserveNTS(quorum(0, 1e6), m.Now())
	if !h.Read().Trusted() {
		t.Fatal(h.Read().Reason)
	}
	// A wide interval (delay attack) above MaxError → untrusted, honestly.
	m.Advance(time.Second)
	h.ObserveNTS(quorum(0, 50e6), m.Now())
	// The intersection with the prediction keeps the tighter bound...
	if r := h.Read(); !r.Trusted() || r.Error > 2e6 {
		t.Fatalf("%+v", r)
	}
	// ...but an error growing past MaxError with time makes it untrusted.
	m.Advance(4 * time.Minute)
	if r := h.Read(); r.Trusted() {
		t.Fatalf("error %d > 10 ms still trusted", r.Error)
	}
}

func TestHealthPlatformAndPeers(t *testing.T) {
	bad := &Platform{SEVSNP: true, SecureTSC: false, Clocksource: "tsc", Problems: []string{"SEV-SNP guest without SecureTSC"}}
	h, m := newHealth(t, Config{AllowDevPlatform: true}, bad)
	h.ObserveNTS(quorum(0, 1e6), m.Now())
	m.Advance(time.Second)
	h.ObserveNTS(quorum(0, 1e6), m.Now())
	if r := h.Read(); r.Trusted() || !strings.Contains(r.Reason, "platform") {
		t.Fatalf("SEV-SNP without SecureTSC trusted: %+v", r)
	}
	h2, m2 := newHealth(t, Config{}, devPlatform)
	h2.ObserveNTS(quorum(0, 1e6), m2.Now())
	m2.Advance(time.Second)
	h2.ObserveNTS(quorum(0, 1e6), m2.Now())
	if h2.Read().Trusted() {
		t.Fatal("dev platform trusted without AllowDevPlatform")
	}
	h3, m3 := newHealth(t, Config{RequirePeers: true}, soundPlatform)
	h3.ObserveNTS(quorum(0, 1e6), m3.Now())
	m3.Advance(time.Second)
	h3.ObserveNTS(quorum(0, 1e6), m3.Now())
	if r := h3.Read(); r.Trusted() || !strings.Contains(r.Reason, "peers") {
		t.Fatalf("%+v", r)
	}
	h3.ObservePeers(true, m3.Now(), "")
	if r := h3.Read(); !r.Trusted() || r.Label != LabelSecureTSC {
		t.Fatalf("%+v", r)
	}
	if _, err := h3.GenTime(); err != nil {
		t.Fatal(err)
	}
	h3.ObservePeers(false, m3.Now(), "2 of 4 consistent")
	if r := h3.Read(); r.Trusted() {
		t.Fatal("trusted against peers")
	}
	// The oracle's signing gate: refused while untrusted, recovers after.
	if _, err := h3.GenTime(); !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "2 of 4") {
		t.Fatalf("GenTime while untrusted: %v", err)
	}
	h3.ObservePeers(true, m3.Now()+1, "")
	if !h3.Read().Trusted() {
		t.Fatal(h3.Read().Reason)
	}
	if _, err := h3.GenTime(); err != nil {
		t.Fatalf("GenTime after recovery: %v", err)
	}
	// Self-taint with peers: a fresh peer round (no new NTS) re-verifies.
	for i := 0; i < 11; i++ {
		m3.Advance(5 * time.Second)
		h3.ObservePeers(true, m3.Now(), "")
	}
	m3.Advance(6 * time.Second)
	if r := h3.Read(); r.Trusted() || !strings.Contains(r.Reason, "self-taint") {
		t.Fatalf("no self-taint after 61 s: %+v", r)
	}
	m3.Advance(time.Millisecond)
	h3.ObservePeers(true, m3.Now(), "")
	if r := h3.Read(); !r.Trusted() {
		t.Fatalf("fresh peer round did not clear the self-taint: %s", r.Reason)
	}
	m3.Advance(11 * time.Second)
	if h3.Read().Trusted() {
		t.Fatal("stale peer verdict accepted")
	}
	// CertTime never precedes the build floor.
	h4, _ := newHealth(t, Config{AllowDevPlatform: true, BuildFloor: 2_000_000_000e9}, devPlatform)
	if h4.CertTime().UnixNano() != 2_000_000_000e9 {
		t.Fatal("cert time before build floor")
	}
}

// With MinRateSpan the node stays untrusted until a converged rate estimate
// covers the span: no estimate, a short one, and a long but unconverged one
// are all refused.
func TestHealthMinRateSpan(t *testing.T) {
	h, m := newHealth(t, Config{AllowDevPlatform: true, MinRateSpan: 15 * time.Minute, MaxSyncAge: time.Hour, MaxError: time.Hour}, devPlatform)
	sync := func() { m.Advance(time.Second); h.ObserveNTS(quorum(0, 1e6), m.Now()) }
	sync()
	sync()
	if r := h.Read(); r.Trusted() || !strings.Contains(r.Reason, "rate estimate") {
		t.Fatalf("trusted without a rate estimate: %+v", r)
	}
	for _, tc := range []struct {
		name string
		rate interval.Rate
		ok   bool
	}{
		{"short span", interval.Rate{Rate: 1e-7, Lo: -1e-6, Hi: 1e-6, Span: int64(14 * time.Minute), N: 400}, false},
		{"not converged", interval.Rate{Rate: 1e-7, Lo: -60e-6, Hi: 60e-6, Span: int64(20 * time.Minute), N: 400}, false},
		{"fit out of bounds", interval.Rate{Rate: 55e-6, Lo: 10e-6, Hi: 90e-6, Span: int64(20 * time.Minute), N: 400}, false},
		{"converged over the span", interval.Rate{Rate: 1e-7, Lo: -1e-6, Hi: 1e-6, Span: int64(15 * time.Minute), N: 400}, true},
	} {
		h.ObserveRate(tc.rate)
		sync()
		if r := h.Read(); r.Trusted() != tc.ok {
			t.Fatalf("%s: trusted %v (%s), want %v", tc.name, r.Trusted(), r.Reason, tc.ok)
		}
	}
}

func BenchmarkHealthGenTime(b *testing.B) {
	m, _ := NewRawMonotonic()
	h, _ := NewHealth(Config{AllowDevPlatform: true}, m, devPlatform)
	h.ObserveNTS(interval.Result{Interval: interval.Around(0, 1e6)}, m.Now())
	h.ObserveNTS(interval.Result{Interval: interval.Around(0, 1e6)}, m.Now()+1)
	for b.Loop() {
		if _, err := h.GenTime(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawMonotonic(b *testing.B) {
	m, _ := NewRawMonotonic()
	for b.Loop() {
		m.Now()
	}
}

func FuzzCheckPlatform(f *testing.F) {
	f.Add("tsc", uint64(0x807), snpLogTSC)
	f.Add("kvm-clock", uint64(7), snpLogNoTSC)
	f.Add("", uint64(0), "SEV: Status:")
	f.Fuzz(func(t *testing.T, cs string, msr uint64, log string) {
		p := CheckPlatform(fakeProbe{clocksource: cs, msr: msr, log: log})
		// Sound only with SNP and SecureTSC in the MSR, tsc, and no contradiction.
		if p.Sound() && (msr&sevStatusSNP == 0 || msr&sevStatusSecTSC == 0 || strings.TrimSpace(cs) != "tsc") {
			t.Fatalf("unsound platform reported sound: %+v", p)
		}
		if p.Sound() != (p.Label() == LabelSecureTSC) {
			t.Fatal("label disagrees with soundness")
		}
	})
}
