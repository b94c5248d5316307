package mldsa

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cc-tsa/cc-tsa/dkg/mldsa/internal/fips204"
)

// fixture is a 3-of-5 key shared by the negative tests.
type fixture struct {
	pk     *PublicKey
	shares []*KeyShare
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pk, shares, err := GenerateKey(rand.Reader, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{pk, shares}
}

type run struct {
	cfg   SessionConfig
	sess  []*Session
	cmts  []*Commitment
	revs  []*Reveal
	resps []*Response
}

// start runs round 1 (and NewSession) for signers.
func (f *fixture) start(t *testing.T, signers []int) *run {
	t.Helper()
	mu, _ := f.pk.Mu([]byte("negative"), nil)
	return f.startWith(t, SessionConfig{Signers: signers, Mu: mu})
}

// startWith runs round 1 (and NewSession) for cfg.Signers.
func (f *fixture) startWith(t *testing.T, cfg SessionConfig) *run {
	t.Helper()
	r := &run{cfg: cfg}
	rand.Read(r.cfg.SessionID[:])
	for _, id := range cfg.Signers {
		st, err := f.shares[id].Round1(nil)
		if err != nil {
			t.Fatal(err)
		}
		s, c, err := f.shares[id].NewSession(st, r.cfg)
		if err != nil {
			t.Fatal(err)
		}
		r.sess = append(r.sess, s)
		r.cmts = append(r.cmts, c)
	}
	return r
}

func (r *run) round2(t *testing.T) {
	t.Helper()
	for _, s := range r.sess {
		v, err := s.Round2(r.cmts)
		if err != nil {
			t.Fatal(err)
		}
		r.revs = append(r.revs, v)
	}
}

func (r *run) round3(t *testing.T) {
	t.Helper()
	for _, s := range r.sess {
		v, err := s.Round3(r.revs)
		if err != nil {
			t.Fatal(err)
		}
		r.resps = append(r.resps, v)
	}
}

func wantAbort(t *testing.T, err error, culprit int) {
	t.Helper()
	var ae *AbortError
	if !errors.As(err, &ae) {
		t.Fatalf("got error %v, want *AbortError naming %d", err, culprit)
	}
	if ae.Culprit != culprit {
		t.Fatalf("abort names %d (%s), want %d", ae.Culprit, ae.Reason, culprit)
	}
}

func TestTwoPartiesCannotSign(t *testing.T) {
	f := newFixture(t)
	st, err := f.shares[0].Round1(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = f.shares[0].NewSession(st, SessionConfig{Signers: []int{0, 1}})
	wantAbort(t, err, CulpritNone)

	// A full 3-party session in which party 4 never speaks cannot proceed.
	r := f.start(t, []int{0, 1, 4})
	_, err = r.sess[0].Round2(r.cmts[:2])
	wantAbort(t, err, 4)
	r2 := f.start(t, []int{0, 1, 4})
	r2.round2(t)
	_, err = r2.sess[2].Round3(r2.revs[:2])
	wantAbort(t, err, 4)
	r2.round3Partial(t, 2)
	_, err = Combine(f.shares[0].Params(), f.pk, r2.cfg, r2.cmts, r2.revs, r2.resps[:2])
	wantAbort(t, err, 4)
	// Two parties' partial responses never form a valid signature, even if
	// the third response is replaced by one of theirs.
	_, err = Combine(f.shares[0].Params(), f.pk, r2.cfg, r2.cmts, r2.revs,
		[]*Response{r2.resps[0], r2.resps[1], {Sender: 4, Slots: r2.resps[0].Slots, accept: r2.resps[0].accept, z: r2.resps[0].z}})
	if err == nil {
		t.Fatal("combined a signature without the third signer's response")
	}
}

// round3Partial runs round 3 for the first n sessions only.
func (r *run) round3Partial(t *testing.T, n int) {
	t.Helper()
	for _, s := range r.sess[:n] {
		v, err := s.Round3(r.revs)
		if err != nil {
			t.Fatal(err)
		}
		r.resps = append(r.resps, v)
	}
}

func TestTamperedRevealNamesCulprit(t *testing.T) {
	f := newFixture(t)
	r := f.start(t, []int{1, 2, 3})
	r.round2(t)
	bad := *r.revs[1]
	bad.w = append([]byte(nil), bad.w...)
	bad.w[100] ^= 1
	revs := []*Reveal{r.revs[0], &bad, r.revs[2]}
	_, err := r.sess[0].Round3(revs)
	wantAbort(t, err, 2)
	if _, err := r.sess[0].Round3(r.revs); !errors.Is(err, ErrWrongPhase) {
		t.Fatalf("aborted session continued: %v", err)
	}
	// The combiner names the same culprit; CombineChecked, whose signers
	// checked the reveals themselves, does not look for one.
	r.round3Partial2(t)
	_, err = Combine(f.shares[1].Params(), f.pk, r.cfg, r.cmts, revs, r.resps)
	wantAbort(t, err, 2)
	if _, err := CombineChecked(f.shares[1].Params(), f.pk, r.cfg, r.cmts, revs, r.resps); !errors.Is(err, ErrNoValidSlot) {
		t.Fatalf("CombineChecked with a tampered reveal: %v", err)
	}
	// A reveal with the wrong number of slots.
	short := &Reveal{Sender: 3, Slots: 1, w: r.revs[2].w[:revealSlotSize]}
	_, err = Combine(f.shares[1].Params(), f.pk, r.cfg, r.cmts, []*Reveal{r.revs[0], r.revs[1], short}, r.resps)
	wantAbort(t, err, 3)
}

// round3Partial2 runs round 3 on the sessions that are still alive.
func (r *run) round3Partial2(t *testing.T) {
	t.Helper()
	for _, s := range r.sess[1:] {
		v, err := s.Round3(r.revs)
		if err != nil {
			t.Fatal(err)
		}
		r.resps = append(r.resps, v)
	}
	r.resps = append([]*Response{{Sender: 1, Slots: r.resps[0].Slots, accept: make([]byte, len(r.resps[0].accept))}}, r.resps...)
}

func TestBadResponses(t *testing.T) {
	f := newFixture(t)
	p := f.shares[0].Params()
	r := f.start(t, []int{0, 2, 4})
	r.round2(t)
	r.round3(t)
	// Wrong slot count.
	bad := &Response{Sender: 2, Slots: p.K - 1, accept: make([]byte, (p.K+6)/8)}
	_, err := Combine(p, f.pk, r.cfg, r.cmts, r.revs, []*Response{r.resps[0], bad, r.resps[2]})
	wantAbort(t, err, 2)
	// Inconsistent length (z missing for an accepted slot).
	bad2 := &Response{Sender: 4, Slots: p.K, accept: append([]byte(nil), r.resps[2].accept...)}
	bad2.accept[0] |= 1
	_, err = Combine(p, f.pk, r.cfg, r.cmts, r.revs, []*Response{r.resps[0], r.resps[1], bad2})
	wantAbort(t, err, 4)
	// Wire-level: wrong length and out-of-range bitmap are rejected.
	enc, err := r.resps[1].MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var d Response
	if err := d.UnmarshalBinary(append(enc, 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte accepted: %v", err)
	}
	if err := d.UnmarshalBinary(enc[:len(enc)-1]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated response accepted: %v", err)
	}
	// p.K = 62: the last bitmap byte has two valid bits; set bit 7.
	mod := append([]byte(nil), enc...)
	mod[5+len(r.resps[1].accept)-1] |= 0x80
	if err := d.UnmarshalBinary(mod); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bitmap bit beyond the last slot accepted: %v", err)
	}
	// A duplicated response aborts naming the sender.
	_, err = Combine(p, f.pk, r.cfg, r.cmts, r.revs, []*Response{r.resps[0], r.resps[0], r.resps[2]})
	wantAbort(t, err, 0)
	// A response whose z was altered never yields a signature that passes
	// verification: Combine either finds no valid slot or (for a slot that
	// was not used) still returns a valid signature.
	alt := *r.resps[1]
	alt.z = append([]byte(nil), alt.z...)
	for i := range alt.z {
		alt.z[i] ^= 0x55
	}
	sig, err := Combine(p, f.pk, r.cfg, r.cmts, r.revs, []*Response{r.resps[0], &alt, r.resps[2]})
	if err == nil && !f.pk.VerifyMu(&r.cfg.Mu, sig) {
		t.Fatal("Combine released an invalid signature")
	}
}

func TestSignerSetChecks(t *testing.T) {
	f := newFixture(t)
	ks := f.shares[0]
	for _, tc := range []struct {
		signers []int
		culprit int
	}{
		{[]int{0, 0, 1}, 0},
		{[]int{0, 3, 3}, 3},
		{[]int{1, 2, 3}, CulpritNone}, // without self
		{[]int{0, 1, 7}, CulpritNone}, // out of range
		{[]int{0, 2, 1}, CulpritNone}, // not sorted
		{[]int{0, 1, 2, 3}, CulpritNone},
	} {
		st, err := ks.Round1(nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = ks.NewSession(st, SessionConfig{Signers: tc.signers})
		wantAbort(t, err, tc.culprit)
		st.Discard()
	}
	// Duplicate commitments from one sender.
	r := f.start(t, []int{0, 1, 2})
	_, err := r.sess[0].Round2([]*Commitment{r.cmts[0], r.cmts[1], r.cmts[1]})
	wantAbort(t, err, 1)
	// A commitment from a party outside the set.
	r = f.start(t, []int{0, 1, 2})
	_, err = r.sess[0].Round2([]*Commitment{r.cmts[0], r.cmts[1], {Sender: 4}})
	wantAbort(t, err, 4)
	// A replaced own commitment.
	r = f.start(t, []int{0, 1, 2})
	_, err = r.sess[0].Round2([]*Commitment{{Sender: 0}, r.cmts[1], r.cmts[2]})
	wantAbort(t, err, 0)
}

func TestRound1StateSingleUse(t *testing.T) {
	f := newFixture(t)
	ks := f.shares[0]
	st, err := ks.Round1(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := SessionConfig{Signers: []int{0, 1, 2}}
	alias := &Round1State{in: st.in} // what a shallow copy would hold
	if _, _, err := ks.NewSession(st, cfg); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.NewSession(st, cfg); !errors.Is(err, ErrStateConsumed) {
		t.Fatalf("second use: %v", err)
	}
	if _, _, err := ks.NewSession(alias, cfg); !errors.Is(err, ErrStateConsumed) {
		t.Fatalf("use through a copy: %v", err)
	}
	// A state of another share is refused.
	st2, err := f.shares[1].Round1(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.NewSession(st2, cfg); err == nil {
		t.Fatal("state of party 1 accepted by party 0")
	}
	// Session methods out of order.
	r := f.start(t, []int{0, 1, 2})
	if _, err := r.sess[0].Round3(nil); !errors.Is(err, ErrWrongPhase) {
		t.Fatalf("Round3 before Round2: %v", err)
	}
	r.round2(t)
	if _, err := r.sess[0].Round2(r.cmts); !errors.Is(err, ErrWrongPhase) {
		t.Fatalf("Round2 twice: %v", err)
	}
	r.round3(t)
	if _, err := r.sess[0].Round3(r.revs); !errors.Is(err, ErrWrongPhase) {
		t.Fatalf("Round3 twice: %v", err)
	}
	if r.sess[0].sec.x != nil {
		t.Fatal("masks kept after round 3")
	}
	// Abort erases an abandoned session.
	r = f.start(t, []int{0, 1, 2})
	r.sess[1].Abort()
	if r.sess[1].sec.x != nil || r.sess[1].sec.s1Hat != ([5]fips204.Poly{}) {
		t.Fatal("Abort kept secrets")
	}
	if _, err := r.sess[1].Round2(r.cmts); !errors.Is(err, ErrWrongPhase) {
		t.Fatalf("Round2 after Abort: %v", err)
	}
	// Formatting never prints secret state.
	st3, _ := ks.Round1(nil)
	for _, v := range []any{st3, r.sess[0]} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if out := fmt.Sprintf(verb, v); !strings.Contains(out, "redacted") || len(out) > 200 {
				t.Fatalf("%s prints %q", verb, out)
			}
		}
	}
}

func TestSessionBudget(t *testing.T) {
	f := newFixture(t)
	ks := f.shares[2]
	if got := ks.Params().DefaultBudget(); got != 1<<28 {
		t.Fatalf("default budget for 3-of-5 = %d, want 2^28", got)
	}
	ks.SetBudget(2)
	cfg := SessionConfig{Signers: []int{0, 1, 2}}
	for i := 0; i < 3; i++ {
		st, err := ks.Round1(nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = ks.NewSession(st, cfg)
		if i < 2 && err != nil {
			t.Fatal(err)
		}
		if i == 2 && !errors.Is(err, ErrBudgetExhausted) {
			t.Fatalf("third session: %v", err)
		}
	}
	if ks.SessionsUsed() != 2 {
		t.Fatalf("used = %d", ks.SessionsUsed())
	}
	ks.SetBudget(10)
	ks.RestoreSessionCount(10)
	st, _ := ks.Round1(nil)
	if _, _, err := ks.NewSession(st, cfg); !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("after restore: %v", err)
	}
	ks.RestoreSessionCount(3) // never goes down
	if ks.SessionsUsed() != 10 {
		t.Fatal("session counter went down")
	}
	// A zeroized share refuses to sign.
	ks2 := f.shares[3]
	ks2.Zeroize()
	st, _ = ks2.Round1(nil)
	if _, _, err := ks2.NewSession(st, SessionConfig{Signers: []int{1, 2, 3}}); err == nil {
		t.Fatal("zeroized share started a session")
	}
}

func TestCheckReveals(t *testing.T) {
	f := newFixture(t)
	r := f.start(t, []int{1, 2, 3})
	r.round2(t)
	p := f.shares[1].Params()
	if err := CheckReveals(p, f.pk, r.cfg, r.cmts, r.revs); err != nil {
		t.Fatalf("honest reveals: %v", err)
	}
	bad := *r.revs[2]
	bad.w = append([]byte(nil), bad.w...)
	bad.w[7] ^= 1
	wantAbort(t, CheckReveals(p, f.pk, r.cfg, r.cmts, []*Reveal{r.revs[0], r.revs[1], &bad}), 3)
}
