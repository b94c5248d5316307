package oracle

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/clock"
	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// t0 is the fixed clock's initial reading (a whole microsecond).
var t0 = time.Unix(1_800_000_000, 0)

// fixedClock is a clock that stands still until the test moves it.
type fixedClock struct {
	mu sync.Mutex
	r  clock.Reading
}

func (c *fixedClock) Now() clock.Reading {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.r
}

func (c *fixedClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.r.Time = c.r.Time.Add(d)
}

func (c *fixedClock) setTrusted(v bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.r.Trusted = v
}

// newFixedOracle returns a ready whole-key oracle on a fixed clock with a
// 20 ms bound; its session lifetimes follow the same clock. cfg's
// MaxAccuracy and ProposalSlack are used.
func newFixedOracle(t *testing.T, cfg Config) (*Oracle, *fixedClock) {
	t.Helper()
	clk := &fixedClock{r: clock.Reading{Time: t0, Accuracy: 20 * time.Millisecond, Trusted: true, Source: "fixed test clock"}}
	name, _ := tst.EncodeName([][2]string{{"CN", "test"}})
	cfg.TSAName, cfg.Clock, cfg.Logger = name, clk, slog.New(slog.NewTextHandler(io.Discard, nil))
	o, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	o.now = func() time.Time { return clk.Now().Time }
	install(t, o)
	return o, clk
}

// setGenTime moves a proposal's genTime to g and rewrites its serial number
// to match (as a malicious coordinator can), so that only the time check
// decides.
func setGenTime(p *wire.Proposal, g time.Time, signers []uint8) {
	g = g.Truncate(time.Microsecond)
	p.GenTimeUnix, p.GenTimeNanos = g.Unix(), uint32(g.Nanosecond())
	s := make([]byte, serialLen)
	copy(s, p.Serial)
	s[0] = serialMarker | signerMask(signers)
	binary.BigEndian.PutUint64(s[1:9], uint64(g.UnixMicro()))
	p.Serial = s
}

// forged returns a proposal with genTime g and accuracy a whose serial
// number is in the right format.
func forged(g time.Time, a time.Duration) *wire.Proposal {
	p := &wire.Proposal{Serial: []byte{0x40, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7}, AccuracyMicros: uint64(a / time.Microsecond)}
	setGenTime(p, g, []uint8{1})
	return p
}

func begin(o *Oracle, sid byte, f *wire.TokenFields, p *wire.Proposal) (*wire.BeginResponse, error) {
	return o.Begin(&wire.BeginRequest{Session: wire.SessionID{sid}, Signers: []uint8{1}, Fields: *f, Proposal: *p})
}

// wantRefused fails unless err is CodeRefused with a message containing what.
func wantRefused(t *testing.T, err error, what, msg string) {
	t.Helper()
	we, ok := err.(*wire.Error)
	if !ok || we.Code != wire.CodeRefused || !strings.Contains(we.Message, msg) {
		t.Errorf("%s: got %v, want refused (%q)", what, err, msg)
	}
}

// TestBackdatingOfFinding3Refused replays the exact proposals of issue 10,
// finding 3, against a signer with a 20 ms bound: each was accepted before.
func TestBackdatingOfFinding3Refused(t *testing.T) {
	for _, maxAcc := range []time.Duration{0, time.Hour} {
		o, _ := newFixedOracle(t, Config{MaxAccuracy: maxAcc})
		f := fields()
		cases := []struct {
			name string
			p    *wire.Proposal
			msg  string
		}{
			{"now−10.04 s ± 20 ms", forged(t0.Add(-10040*time.Millisecond), 20*time.Millisecond), "behind"},
			{"now−1 h 9 s ± 1 h", forged(t0.Add(-time.Hour-9*time.Second), time.Hour), "behind"},
			{"now+1 h ± 1 h", forged(t0.Add(time.Hour), time.Hour), "ahead"},
		}
		for i, c := range cases {
			msg := c.msg
			if maxAcc == 0 && c.p.AccuracyMicros > uint64(DefaultMaxAccuracy/time.Microsecond) {
				msg = "too wide"
			}
			_, err := begin(o, byte(i+1), f, c.p)
			wantRefused(t, err, c.name, msg)
		}
	}
}

// TestProposalContainmentEdge checks the acceptance rule at its edges, to
// the microsecond: [g−A, g+A] must contain [t−b, t+b] and A ≤ the maximum.
func TestProposalContainmentEdge(t *testing.T) {
	r := clock.Reading{Time: t0, Accuracy: 20 * time.Millisecond, Trusted: true}
	a := 70 * time.Millisecond
	us := time.Microsecond
	for _, c := range []struct {
		g      time.Time
		a      time.Duration
		accept bool
		msg    string
	}{
		{t0, a, true, ""},
		{t0.Add(50 * time.Millisecond), a, true, ""},
		{t0.Add(50*time.Millisecond + us), a, false, "ahead"},
		{t0.Add(-50 * time.Millisecond), a, true, ""},
		{t0.Add(-50*time.Millisecond - us), a, false, "behind"},
		{t0, 20 * time.Millisecond, true, ""},     // equal intervals
		{t0, 20*time.Millisecond - us, false, ""}, // tighter than the bound
		{t0, time.Second, true, ""},
		{t0, time.Second + us, false, "too wide"},
	} {
		p := forged(c.g, c.a)
		err := checkProposalTime(p, r, time.Second)
		if (err == nil) != c.accept || (err != nil && !strings.Contains(err.Error(), c.msg)) {
			t.Errorf("genTime t0%+v ± %v: %v, want accept=%v", c.g.Sub(t0), c.a, err, c.accept)
		}
	}
	// The same edge through Begin: the leader's own proposal (± 70 ms for a
	// 20 ms bound and 50 ms slack) is accepted up to 50 ms later, not after.
	o, clk := newFixedOracle(t, Config{ProposalSlack: 50 * time.Millisecond})
	f := fields()
	p, err := propose(o, f)
	if err != nil {
		t.Fatal(err)
	}
	if p.AccuracyMicros != 70_000 {
		t.Fatalf("whole-key leader claims %d µs, want 70000", p.AccuracyMicros)
	}
	clk.advance(50*time.Millisecond + us)
	_, err = begin(o, 1, f, p)
	wantRefused(t, err, "own proposal after the slack", "behind")
	var we *wire.Error
	if !errors.As(err, &we) {
		t.Fatal(err)
	}
	if gap, ok := wire.ParseLateProposal(we.Message); !ok || gap != us {
		t.Fatalf("late refusal %q: gap %v %v, want %v", we.Message, gap, ok, us)
	}
	clk.advance(-us)
	if _, err := begin(o, 2, f, p); err != nil {
		t.Fatalf("own proposal at the end of the slack: %v", err)
	}
}

// TestProposedAccuracy checks the accuracy leaders claim and that a claim
// beyond the maximum is not made.
func TestProposedAccuracy(t *testing.T) {
	th := &Oracle{cfg: Config{MaxAccuracy: time.Second, ProposalSlack: 50 * time.Millisecond}}
	wh := &Oracle{cfg: th.cfg, whole: &wholeKeys{}}
	ms := time.Millisecond
	for _, c := range []struct {
		o    *Oracle
		b    time.Duration
		want time.Duration // 0: refused
	}{
		{wh, 20 * ms, 70 * ms},
		{wh, 20*ms + 1, 71 * ms},
		{wh, 950 * ms, time.Second},
		{wh, 950*ms + 1, 0},
		{th, 50 * ms, 202 * ms}, // the testtsa cluster: 3·50 ms + 2 ms + 50 ms
		{th, 316 * ms, 1000 * ms},
		{th, 317 * ms, 0},
	} {
		a, err := c.o.proposedAccuracy(c.b)
		switch {
		case c.want == 0 && code(err) != wire.CodeTimeNotAvailable:
			t.Errorf("bound %v (whole %v): %v, %v; want time not available", c.b, c.o.whole != nil, a, err)
		case c.want != 0 && (err != nil || a != c.want):
			t.Errorf("bound %v (whole %v): %v, %v; want %v", c.b, c.o.whole != nil, a, err, c.want)
		}
	}
	// Whole-key Propose refuses when its bound leaves no room.
	o, _ := newFixedOracle(t, Config{MaxAccuracy: 70 * time.Millisecond, ProposalSlack: 50 * time.Millisecond})
	if _, err := propose(o, fields()); err != nil {
		t.Fatal(err)
	}
	o.cfg.ProposalSlack = 51 * time.Millisecond
	if _, err := propose(o, fields()); code(err) != wire.CodeTimeNotAvailable {
		t.Fatalf("claim over the maximum: %v", err)
	}
}

func TestMaxAccuracyConfig(t *testing.T) {
	name, _ := tst.EncodeName([][2]string{{"CN", "test"}})
	clk := &fixedClock{}
	for _, c := range []Config{
		{MaxAccuracy: time.Hour + time.Microsecond},
		{MaxAccuracy: -time.Second},
		{MaxAccuracy: time.Second, ProposalSlack: time.Second},
		{ProposalSlack: -time.Millisecond},
	} {
		c.TSAName, c.Clock = name, clk
		if _, err := New(c); err == nil {
			t.Errorf("max accuracy %v, slack %v accepted", c.MaxAccuracy, c.ProposalSlack)
		}
	}
	o, err := New(Config{TSAName: name, Clock: clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil || o.cfg.MaxAccuracy != DefaultMaxAccuracy || o.cfg.ProposalSlack != DefaultProposalSlack {
		t.Fatalf("defaults: %v %v %v", err, o.cfg.MaxAccuracy, o.cfg.ProposalSlack)
	}
}

// TestReplayOfFinding4Refused replays an identical Begin (finding 4) inside
// the window, 80 s later, and with a maximum accuracy wide enough that the
// time check alone would still pass it.
func TestReplayOfFinding4Refused(t *testing.T) {
	o, clk := newFixedOracle(t, Config{})
	f := fields()
	p, err := propose(o, f)
	if err != nil {
		t.Fatal(err)
	}
	req := &wire.BeginRequest{Session: wire.SessionID{1}, Signers: []uint8{1}, Fields: *f, Proposal: *p}
	if _, err := o.Begin(req); err != nil {
		t.Fatal(err)
	}
	o.End(req.Session)
	clk.advance(10 * time.Millisecond)
	_, err = o.Begin(req)
	wantRefused(t, err, "replay inside the window", "used before")
	clk.advance(80 * time.Second)
	_, err = o.Begin(req)
	wantRefused(t, err, "replay 80 s later", "behind")
	// The next admission drops the old entry: its window has closed.
	if p, err = propose(o, f); err != nil {
		t.Fatal(err)
	}
	if _, err := begin(o, 2, f, p); err != nil {
		t.Fatal(err)
	}
	if n := o.seen.len(); n != 1 {
		t.Errorf("record holds %d entries, want only the new one", n)
	}

	// With a one-hour maximum a replay 80 s later would pass the time
	// check (the forged proposal claims ± 1 h): the record still holds it.
	o, clk = newFixedOracle(t, Config{MaxAccuracy: time.Hour, ProposalSlack: time.Second})
	p = forged(t0, time.Hour)
	req = &wire.BeginRequest{Session: wire.SessionID{1}, Signers: []uint8{1}, Fields: *f, Proposal: *p}
	if _, err := o.Begin(req); err != nil {
		t.Fatal(err)
	}
	o.End(req.Session)
	clk.advance(80 * time.Second)
	_, err = o.Begin(req)
	wantRefused(t, err, "replay 80 s later, 1 h maximum", "session id was used before")
	req.Session = wire.SessionID{2}
	req.Fields.Imprint = make([]byte, 32)
	req.Fields.Imprint[0] = 1
	_, err = o.Begin(req)
	wantRefused(t, err, "same serial, other imprint, 80 s later", "serial number was used before")
	// The entry stays until its window (genTime + 1 h) has closed.
	clk.advance(time.Hour - 80*time.Second - 20*time.Millisecond)
	_, err = o.Begin(req)
	wantRefused(t, err, "same serial at the end of its window", "serial number was used before")
	if n := o.seen.len(); n != 1 {
		t.Errorf("record holds %d entries inside the window", n)
	}
}

// TestSerialReuseRefused signs a second imprint under the serial number of
// a first token.
func TestSerialReuseRefused(t *testing.T) {
	o, _ := newFixedOracle(t, Config{})
	f := fields()
	p, err := propose(o, f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := begin(o, 1, f, p); err != nil {
		t.Fatal(err)
	}
	g := fields()
	g.Imprint[0] = 0xff
	_, err = begin(o, 2, g, p)
	wantRefused(t, err, "same serial, other imprint", "serial number was used before")
}

// TestSerialFormatChecked checks that the serial number must embed the
// proposal's genTime and the request's signer set.
func TestSerialFormatChecked(t *testing.T) {
	o, _ := newFixedOracle(t, Config{})
	f := fields()
	p, err := propose(o, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Serial) != 16 || p.Serial[0] != 0x41 || binary.BigEndian.Uint64(p.Serial[1:9]) != uint64(t0.UnixMicro()) {
		t.Fatalf("serial %x does not embed {1} and genTime", p.Serial)
	}
	if err := wire.CheckSerial(p.Serial); err != nil {
		t.Fatalf("serial %x: %v", p.Serial, err)
	}
	mut := func(m func(q *wire.Proposal)) *wire.Proposal {
		q := *p
		q.Serial = append([]byte(nil), p.Serial...)
		m(&q)
		return &q
	}
	for i, c := range []struct {
		name string
		p    *wire.Proposal
		msg  string
	}{
		{"other embedded time", mut(func(q *wire.Proposal) { q.Serial[8]++ }), "embeds genTime"},
		{"other genTime", mut(func(q *wire.Proposal) { q.GenTimeNanos += 1000 }), "embeds genTime"},
		{"other signer set", mut(func(q *wire.Proposal) { q.Serial[0] = 0x43 }), "names signer set"},
		{"random serial", mut(func(q *wire.Proposal) { q.Serial = []byte{0x40, 1, 2, 3} }), "format"},
		{"no marker", mut(func(q *wire.Proposal) { q.Serial[0] = 0x01 }), "format"},
	} {
		_, err := begin(o, byte(i+1), f, c.p)
		wantRefused(t, err, c.name, c.msg)
	}
	if _, err := begin(o, 10, f, p); err != nil {
		t.Fatalf("the untouched proposal: %v", err)
	}
}

// TestReplayRecordBoundedAndExpires checks the record's bound and that
// entries leave only after their window, measured on trusted readings.
func TestReplayRecordBoundedAndExpires(t *testing.T) {
	r := newReplayRecord(3)
	at := func(d time.Duration) clock.Reading {
		return clock.Reading{Time: t0.Add(d), Accuracy: 20 * time.Millisecond, Trusted: true}
	}
	add := func(i byte, expires time.Duration, now clock.Reading) error {
		return r.add(wire.SessionID{i}, []byte{0x40, i}, t0.Add(expires), now)
	}
	for i, e := range []time.Duration{3 * time.Second, time.Second, 2 * time.Second} {
		if err := add(byte(i+1), e, at(0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := add(9, time.Second, at(0)); code(err) != wire.CodeBusy {
		t.Fatalf("full record: %v", err)
	}
	// The entry expiring at 1 s stays while t − b is within the margin.
	edge := time.Second + replayStepMargin + 20*time.Millisecond
	if err := add(9, time.Second, at(edge)); code(err) != wire.CodeBusy {
		t.Fatalf("at the margin: %v", err)
	}
	untrusted := at(time.Hour)
	untrusted.Trusted = false
	if err := add(9, time.Second, untrusted); code(err) != wire.CodeBusy {
		t.Fatalf("an untrusted reading expired entries: %v", err)
	}
	if err := add(9, 5*time.Second, at(edge+time.Microsecond)); err != nil {
		t.Fatalf("after the first window: %v", err)
	}
	if err := add(2, 5*time.Second, at(edge+time.Microsecond)); code(err) != wire.CodeBusy {
		t.Fatalf("session 2 left early or the bound broke: %v", err)
	}
	if err := add(10, 2*time.Minute, at(time.Minute)); err != nil || r.len() != 1 || len(r.sessions) != 1 || len(r.serials) != 1 {
		t.Fatalf("after every window: %v, %d/%d/%d entries", err, r.len(), len(r.sessions), len(r.serials))
	}
	if err := r.add(wire.SessionID{10}, []byte{0x40, 77}, t0, at(time.Minute)); code(err) != wire.CodeRefused {
		t.Fatalf("session id reused: %v", err)
	}
	if err := r.add(wire.SessionID{77}, []byte{0x40, 10}, t0, at(time.Minute)); code(err) != wire.CodeRefused {
		t.Fatalf("serial reused: %v", err)
	}
}

// TestSessionsExpireOnInjectedTime checks that an unfinished session leaves
// after SessionLifetime of the injected time, without sleeping.
func TestSessionsExpireOnInjectedTime(t *testing.T) {
	o, clk := newFixedOracle(t, Config{MaxAccuracy: time.Hour, ProposalSlack: time.Minute})
	f := fields()
	p, err := propose(o, f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := begin(o, 1, f, p); err != nil {
		t.Fatal(err)
	}
	clk.advance(SessionLifetime + time.Millisecond)
	if _, err := o.Round(&wire.RoundRequest{Session: wire.SessionID{1}, Scheme: wire.SchemeMLDSA65, Round: 1}); code(err) != wire.CodeUnknownSession {
		t.Fatalf("session after its lifetime: %v", err)
	}
	clk.setTrusted(false)
	if _, err := begin(o, 2, f, p); code(err) != wire.CodeTimeNotAvailable {
		t.Fatalf("untrusted clock: %v", err)
	}
}
