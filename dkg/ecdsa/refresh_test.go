package ecdsa

import (
	"bytes"
	stdecdsa "crypto/ecdsa"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
)

// cloneShare copies a share so that a test can refresh (and so zeroize) the
// copy without touching the shared DKG fixture. The pairwise material is
// shared with the original, as it is between an old and a refreshed share.
func cloneShare(k *KeyShare) *KeyShare {
	c := &KeyShare{self: k.self, keyID: k.keyID, x: k.x.Clone(), pk: k.pk, shares: k.shares}
	k.mu.RLock()
	c.pairs = k.pairs
	k.mu.RUnlock()
	c.confirm.Store(k.confirm.Load())
	return c
}

func cloneShares(ks [Parties + 1]*KeyShare) (out [Parties + 1]*KeyShare) {
	for i := 1; i <= Parties; i++ {
		out[i] = cloneShare(ks[i])
	}
	return
}

// refreshHook may tamper with the copy of message m delivered to party to
// in round 1 (broadcasts and shares) or 2 (digests); run gives access to
// the state machines (for example to forge a consistent binding).
type refreshHook func(run *refreshRun, round, to int, m any)

type refreshRun struct {
	rs       [Parties + 1]*Refresh
	confirms [Parties + 1]*RefreshConfirm
}

// startRefresh runs Round1 and Round2 on all parties; cfg may change a
// party's configuration (nil: same session and epoch for everyone).
func startRefresh(t testing.TB, ks [Parties + 1]*KeyShare, cfg func(*RefreshConfig), hook refreshHook) (*refreshRun, error) {
	t.Helper()
	sid, epoch := randomSID(), randomSID()
	run := &refreshRun{}
	for i := 1; i <= Parties; i++ {
		c := RefreshConfig{Share: ks[i], SessionID: sid, EpochID: epoch, Rand: rand.Reader}
		if cfg != nil {
			cfg(&c)
		}
		r, err := NewRefresh(c)
		if err != nil {
			return nil, &partyError{i, err}
		}
		run.rs[i] = r
	}
	var bc [Parties + 1]*RefreshBroadcast
	var dm [Parties + 1][]*RefreshDirect
	for i := 1; i <= Parties; i++ {
		var err error
		if bc[i], dm[i], err = run.rs[i].Round1(); err != nil {
			return run, &partyError{i, err}
		}
	}
	for i := 1; i <= Parties; i++ {
		var inB []*RefreshBroadcast
		var inD []*RefreshDirect
		for j := 1; j <= Parties; j++ {
			if j == i {
				continue
			}
			b := roundtrip(t, bc[j], new(RefreshBroadcast))
			if hook != nil {
				hook(run, 1, i, b)
			}
			inB = append(inB, b)
			for _, m := range dm[j] {
				if m.To == i {
					d := roundtrip(t, m, new(RefreshDirect))
					if hook != nil {
						hook(run, 1, i, d)
					}
					inD = append(inD, d)
				}
			}
		}
		c, err := run.rs[i].Round2(inB, inD)
		if err != nil {
			return run, &partyError{i, err}
		}
		run.confirms[i] = c
	}
	return run, nil
}

// commitAll delivers the digests and commits every party.
func (run *refreshRun) commitAll(t testing.TB, hook refreshHook) ([Parties + 1]*KeyShare, error) {
	t.Helper()
	var out [Parties + 1]*KeyShare
	for i := 1; i <= Parties; i++ {
		var in []*RefreshConfirm
		for j := 1; j <= Parties; j++ {
			if j != i {
				c := roundtrip(t, run.confirms[j], new(RefreshConfirm))
				if hook != nil {
					hook(run, 2, i, c)
				}
				in = append(in, c)
			}
		}
		ns, err := run.rs[i].Commit(in)
		if err != nil {
			return out, &partyError{i, err}
		}
		out[i] = ns
	}
	return out, nil
}

func refreshAll(t testing.TB, ks [Parties + 1]*KeyShare) [Parties + 1]*KeyShare {
	t.Helper()
	run, err := startRefresh(t, ks, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := run.commitAll(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// combinesToPK reports whether the Lagrange combination of the given
// shares (indexed by party) over set is the secret key of pk.
func combinesToPK(x [Parties + 1]*p384.Scalar, set []int, pk *p384.Point) bool {
	sk := p384.NewScalar()
	for _, i := range set {
		sk.Add(sk, p384.NewScalar().Mul(lagrange(set, i), x[i]))
	}
	defer sk.Zeroize()
	return p384.Equal(p384.BaseMul(sk), pk)
}

func signAndVerify(t *testing.T, ks [Parties + 1]*KeyShare, sets [][]int, msg string) {
	t.Helper()
	ss := newSigners(t, ks, SignerConfig{})
	pub := ks[1].PublicKey()
	for _, set := range sets {
		d := sha384([]byte(msg))
		ps, err := runPresign(t, ss, set, randomSID(), nil)
		if err != nil {
			t.Fatalf("%v: presign: %v", set, err)
		}
		sig, err := Combine(pub, d, signAll(t, ps, set, d))
		if err != nil {
			t.Fatalf("%v: combine: %v", set, err)
		}
		if !stdecdsa.VerifyASN1(pub, d, sig) || stdecdsa.VerifyASN1(pub, sha384([]byte(msg+"!")), sig) {
			t.Fatalf("%v: crypto/ecdsa verification", set)
		}
	}
}

func TestRefreshSignsAndOldShareUseless(t *testing.T) {
	fix := confirmedShares(t)
	old := cloneShares(fix)
	kept := cloneShare(fix[1]) // what a former holder of index 1 kept
	run, err := startRefresh(t, old, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := run.commitAll(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	var xOld, xNew [Parties + 1]*p384.Scalar
	for i := 1; i <= Parties; i++ {
		xOld[i], xNew[i] = fix[i].x, ns[i].x
		if run.rs[i].Digest() != run.rs[1].Digest() {
			t.Fatalf("party %d digest differs", i)
		}
		if ns[i].KeyID() != fix[1].KeyID() || !bytes.Equal(ns[i].PublicKeyBytes(), fix[1].PublicKeyBytes()) {
			t.Fatalf("party %d: key id or public key changed", i)
		}
		if !ns[i].Confirmed() || ns[i].Self() != i {
			t.Fatalf("party %d: confirmation state or index lost", i)
		}
		if ns[i].x.Equal(fix[i].x) == 1 || bytes.Equal(ns[i].PublicShare(i), fix[i].PublicShare(i)) {
			t.Fatalf("party %d: share not refreshed", i)
		}
		if !bytes.Equal(p384.BaseMul(ns[i].x).Bytes(), ns[i].PublicShare(i)) {
			t.Fatalf("party %d: x'·G ≠ X'", i)
		}
		for m := 1; m <= Parties; m++ {
			if !bytes.Equal(ns[i].PublicShare(m), ns[1].PublicShare(m)) {
				t.Fatalf("parties 1 and %d disagree on X'_%d", i, m)
			}
			if m != i && ns[i].pair(m) != fix[i].pair(m) {
				t.Fatalf("party %d: pairwise material with %d not carried over", i, m)
			}
		}
		// The old share is erased and refuses use.
		if old[i].x.IsZero() != 1 || old[i].HasPair(i%Parties+1) {
			t.Fatalf("party %d: old share not erased", i)
		}
		s, err := NewSigner(old[i], SignerConfig{Rand: rand.Reader})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.NewPresign(randomSID(), Subsets()[0]); !errors.Is(err, ErrState) && i <= Threshold {
			t.Fatalf("party %d: old share presigns: %v", i, err)
		}
		if _, err := old[i].ReshareContribution(randomSID(), 5, []int{1, 2, 3}); i <= 3 && !errors.Is(err, ErrState) {
			t.Fatalf("party %d: old share still contributes: %v", i, err)
		}
		if _, err := NewRefresh(RefreshConfig{Share: old[i], Rand: rand.Reader}); !errors.Is(err, ErrState) {
			t.Fatalf("party %d: refresh of an erased share: %v", i, err)
		}
	}
	pk := fix[1].pk
	for _, set := range Subsets() {
		if !combinesToPK(xNew, set, pk) || !combinesToPK(xOld, set, pk) {
			t.Fatalf("%v: a sharing does not reconstruct the key", set)
		}
		// Every mix of one old share with refreshed ones is useless.
		for _, i := range set {
			mixed := xNew
			mixed[i] = xOld[i]
			if combinesToPK(mixed, set, pk) {
				t.Fatalf("%v with old x_%d reconstructs the key", set, i)
			}
		}
	}
	signAndVerify(t, ns, [][]int{{1, 2, 3}, {1, 4, 5}, {2, 3, 5}}, "after refresh")

	// The former holder of index 1 signs with its kept share and the
	// refreshed parties 2 and 3: no valid signature comes out.
	ss := newSigners(t, ns, SignerConfig{})
	ss[1], err = NewSigner(kept, SignerConfig{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	set := []int{1, 2, 3}
	d := sha384([]byte("old share"))
	ps, err := runPresign(t, ss, set, randomSID(), nil)
	if err == nil {
		var shares []*SignShare
		for _, i := range set {
			sh, err := Sign(ps[i], d)
			if err != nil {
				t.Fatal(err)
			}
			shares = append(shares, sh)
		}
		sig, err := Combine(ns[2].PublicKey(), d, shares)
		if err == nil || stdecdsa.VerifyASN1(ns[2].PublicKey(), d, sig) {
			t.Fatal("old share mixed with refreshed shares produced a valid signature")
		}
	}
	var ae *AbortError
	if err != nil && !errors.As(err, &ae) {
		t.Fatalf("unexpected failure type: %v", err)
	}
	t.Logf("old share with refreshed ones: %v", err)
}

func TestRefreshMaliciousDealer(t *testing.T) {
	fix := testShares(t)
	bump := func(b *[p384.ScalarSize]byte) {
		s, _ := p384.NewScalar().SetBytes(b[:])
		s.Add(s, p384.ScalarFromUint64(1)).PutBytes(b[:])
	}
	cases := []struct {
		name   string
		cfg    func(*RefreshConfig)
		hook   func() refreshHook // a fresh hook per run
		reason string
	}{
		{name: "bad share", reason: "Feldman", hook: func() refreshHook {
			return func(_ *refreshRun, round, to int, m any) {
				if d, ok := m.(*RefreshDirect); ok && d.From == 2 && to == 1 {
					bump(&d.Share)
				}
			}
		}},
		{name: "bad commitment, consistent binding", reason: "Feldman", hook: func() refreshHook {
			// Dealer 2 broadcasts a commitment that does not match its
			// polynomial and binds its shares to that commitment.
			var forged *RefreshBroadcast
			return func(run *refreshRun, round, to int, m any) {
				switch v := m.(type) {
				case *RefreshBroadcast:
					if v.From == 2 {
						if forged == nil {
							v.Coeffs[1] = randomPoint()
							f := *v
							forged = &f
						}
						*v = *forged
					}
				case *RefreshDirect:
					if v.From == 2 && forged != nil {
						v.Bind = run.rs[2].shareBind(2, to, run.rs[2].commitDigest(forged))
					}
				}
			}
		}},
		{name: "commitments changed without binding", reason: "bound to other commitments", hook: func() refreshHook {
			return func(_ *refreshRun, round, to int, m any) {
				if b, ok := m.(*RefreshBroadcast); ok && b.From == 2 {
					b.Coeffs[0], b.Coeffs[1] = b.Coeffs[1], b.Coeffs[0]
				}
			}
		}},
		{name: "share bound to another receiver", reason: "bound to other commitments", hook: func() refreshHook {
			return func(run *refreshRun, round, to int, m any) {
				if d, ok := m.(*RefreshDirect); ok && d.From == 2 && to == 1 {
					c := run.rs[2].commitDigest(run.rs[2].bc[2])
					d.Bind = run.rs[2].shareBind(2, 3, c)
				}
			}
		}},
		{name: "wrong epoch", reason: "another session, epoch", cfg: func(c *RefreshConfig) {
			if c.Share.self == 2 {
				c.EpochID[0] ^= 1
			}
		}},
		{name: "wrong session", reason: "another session, epoch", cfg: func(c *RefreshConfig) {
			if c.Share.self == 2 {
				c.SessionID[0] ^= 1
			}
		}},
		{name: "wrong key id in a share", reason: "another session, epoch or key", hook: func() refreshHook {
			return func(_ *refreshRun, round, to int, m any) {
				if d, ok := m.(*RefreshDirect); ok && d.From == 2 {
					d.KeyID[31] ^= 1
				}
			}
		}},
		{name: "stale prior state", reason: "prior state", hook: func() refreshHook {
			return func(_ *refreshRun, round, to int, m any) {
				if b, ok := m.(*RefreshBroadcast); ok && b.From == 2 {
					b.Prior[0] ^= 1
				}
			}
		}},
		{name: "share addressed elsewhere", reason: "another party", hook: func() refreshHook {
			return func(_ *refreshRun, round, to int, m any) {
				if d, ok := m.(*RefreshDirect); ok && d.From == 2 && to == 1 {
					d.To = 4
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ks := cloneShares(fix)
			var hook refreshHook
			if tc.hook != nil {
				hook = tc.hook()
			}
			run, err := startRefresh(t, ks, tc.cfg, hook)
			var ae *AbortError
			var pe *partyError
			if !errors.As(err, &ae) || !errors.As(err, &pe) {
				t.Fatalf("got %v", err)
			}
			if ae.Culprit != 2 || pe.party == 2 || !strings.Contains(ae.Reason, tc.reason) {
				t.Fatalf("party %d blamed %d (%q), want 2 (%q)", pe.party, ae.Culprit, ae.Reason, tc.reason)
			}
			// The honest party's old share is untouched and its refresh dead.
			if ks[pe.party].zeroized.Load() || ks[pe.party].x.Equal(fix[pe.party].x) != 1 {
				t.Fatal("old share changed by a failed refresh")
			}
			if _, err := run.rs[pe.party].Commit(nil); !errors.Is(err, ErrState) {
				t.Fatalf("commit after abort: %v", err)
			}
		})
	}

	t.Run("digest mismatch", func(t *testing.T) {
		ks := cloneShares(fix)
		run, err := startRefresh(t, ks, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = run.commitAll(t, func(_ *refreshRun, round, to int, m any) {
			if c, ok := m.(*RefreshConfirm); ok && c.From == 3 {
				c.Digest[0] ^= 1
			}
		})
		var ae *AbortError
		if !errors.As(err, &ae) || ae.Culprit != 3 || !errors.Is(err, ErrRefreshDigest) {
			t.Fatalf("got %v", err)
		}
		if ks[1].zeroized.Load() || ks[1].x.Equal(fix[1].x) != 1 {
			t.Fatal("old share changed by a failed commit")
		}
	})

	t.Run("duplicate, missing, order", func(t *testing.T) {
		ks := cloneShares(fix)
		sid, epoch := randomSID(), randomSID()
		var rs [Parties + 1]*Refresh
		var bc [Parties + 1]*RefreshBroadcast
		var dm [Parties + 1][]*RefreshDirect
		for i := 1; i <= Parties; i++ {
			rs[i], _ = NewRefresh(RefreshConfig{Share: ks[i], SessionID: sid, EpochID: epoch, Rand: rand.Reader})
			if _, err := rs[i].Round2(nil, nil); !errors.Is(err, ErrState) {
				t.Fatalf("Round2 before Round1: %v", err)
			}
		}
		// A fresh state machine per party (the calls above killed them).
		for i := 1; i <= Parties; i++ {
			rs[i], _ = NewRefresh(RefreshConfig{Share: ks[i], SessionID: sid, EpochID: epoch, Rand: rand.Reader})
			var err error
			if bc[i], dm[i], err = rs[i].Round1(); err != nil {
				t.Fatal(err)
			}
			if _, _, err := rs[i].Round1(); !errors.Is(err, ErrState) {
				t.Fatal("Round1 twice")
			}
		}
		to1 := func() (d []*RefreshDirect) {
			for j := 2; j <= Parties; j++ {
				for _, m := range dm[j] {
					if m.To == 1 {
						d = append(d, m)
					}
				}
			}
			return
		}
		var ae *AbortError
		_, err := rs[1].Round2([]*RefreshBroadcast{bc[2], bc[3], bc[4], bc[4]}, to1())
		if !errors.As(err, &ae) || ae.Culprit != 4 {
			t.Fatalf("duplicate broadcast: %v", err)
		}
		rs[2], _ = NewRefresh(RefreshConfig{Share: ks[2], SessionID: sid, EpochID: epoch, Rand: rand.Reader})
		rs[2].Round1()
		_, err = rs[2].Round2([]*RefreshBroadcast{bc[1], bc[3], bc[4], bc[5]}, nil)
		if !errors.As(err, &ae) || ae.Culprit != 1 {
			t.Fatalf("missing shares: %v", err)
		}
		rs[3].Abort()
		if _, err := rs[3].Round2(nil, nil); !errors.Is(err, ErrState) {
			t.Fatalf("Round2 after Abort: %v", err)
		}
		if ks[3].zeroized.Load() {
			t.Fatal("Abort erased the old share")
		}
		if _, err := rs[1].Round2(nil, []*RefreshDirect{nil}); !errors.Is(err, ErrState) {
			t.Fatal("dead refresh reused")
		}
		if _, err := NewRefresh(RefreshConfig{Share: ks[1]}); !errors.Is(err, ErrConfig) {
			t.Fatalf("nil randomness: %v", err)
		}
		if _, err := NewRefresh(RefreshConfig{Rand: rand.Reader}); !errors.Is(err, ErrConfig) {
			t.Fatalf("nil share: %v", err)
		}
	})
}

func TestRefreshReplacementFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("runs its own DKG")
	}
	ks, err := runDKG(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	const target = 5
	var before [Parties + 1]*p384.Scalar
	for i := 1; i <= Parties; i++ {
		before[i] = ks[i].x.Clone()
	}
	// Index 5 gets a new holder: its share comes from helpers 1, 2 and 4.
	helpers := []int{1, 2, 4}
	sid := randomSID()
	var contribs []*ReshareContribution
	for _, h := range helpers {
		c, err := ks[h].ReshareContribution(sid, target, helpers)
		if err != nil {
			t.Fatal(err)
		}
		contribs = append(contribs, roundtrip(t, c, new(ReshareContribution)))
	}
	fresh, err := NewReplacementShare(target, contribs)
	if err != nil {
		t.Fatal(err)
	}
	ks[target].Zeroize()
	ks[target] = fresh
	for j := 1; j < target; j++ {
		rt, rj, err := runPairSetup(t, fresh.KeyID(), target, j)
		if err != nil {
			t.Fatalf("pair %d-%d: %v", target, j, err)
		}
		if err := fresh.InstallPair(rt); err != nil {
			t.Fatal(err)
		}
		if err := ks[j].InstallPair(rj); err != nil {
			t.Fatal(err)
		}
	}
	// Refresh all five, including the replacement.
	ns := refreshAll(t, ks)
	var after [Parties + 1]*p384.Scalar
	for i := 1; i <= Parties; i++ {
		after[i] = ns[i].x
		if !ks[i].zeroized.Load() || ks[i].x.IsZero() != 1 {
			t.Fatalf("party %d: old share not erased", i)
		}
	}
	pk := ns[1].pk
	for _, set := range Subsets() {
		if !combinesToPK(after, set, pk) {
			t.Fatalf("%v: refreshed shares do not reconstruct the key", set)
		}
	}
	// What the replaced holder of index 5 kept (x_5 of the old epoch) is
	// useless with refreshed shares.
	mixed := after
	mixed[target] = before[target]
	for _, set := range [][]int{{1, 2, 5}, {3, 4, 5}, {2, 4, 5}} {
		if combinesToPK(mixed, set, pk) {
			t.Fatalf("%v: old x_5 reconstructs the key with refreshed shares", set)
		}
	}
	if err := confirm(t, ns); err != nil {
		t.Fatalf("confirmation after refresh: %v", err)
	}
	signAndVerify(t, ns, [][]int{{1, 2, 5}, {3, 4, 5}}, "after replacement and refresh")
}

func TestRefreshDecodersStrict(t *testing.T) {
	b := &RefreshBroadcast{From: 2, Coeffs: [refreshCoeffs][p384.PointSize]byte{seedPoint(), seedPoint()}}
	d := &RefreshDirect{From: 2, To: 4, Share: seedScalar()}
	c := &RefreshConfirm{From: 5}
	for _, m := range []codec{b, d, c} {
		enc, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		fresh := map[byte]func() codec{
			tagRefreshB: func() codec { return new(RefreshBroadcast) },
			tagRefreshD: func() codec { return new(RefreshDirect) },
			tagRefreshC: func() codec { return new(RefreshConfirm) },
		}[enc[0]]
		if err := fresh().UnmarshalBinary(enc); err != nil {
			t.Fatalf("tag %x: %v", enc[0], err)
		}
		mut := func(name string, f func([]byte) []byte) {
			if err := fresh().UnmarshalBinary(f(append([]byte(nil), enc...))); !errors.Is(err, ErrDecode) {
				t.Errorf("tag %x, %s: %v", enc[0], name, err)
			}
		}
		mut("truncated", func(e []byte) []byte { return e[:len(e)-1] })
		mut("trailing", func(e []byte) []byte { return append(e, 0) })
		mut("empty", func([]byte) []byte { return nil })
		mut("wrong tag", func(e []byte) []byte { e[0] = tagReshare; return e })
		mut("wrong version", func(e []byte) []byte { e[1] = 2; return e })
	}
	enc, _ := b.MarshalBinary()
	const from = 2 + 4*32
	for name, f := range map[string]func([]byte){
		"party 0":      func(e []byte) { e[from] = 0 },
		"party 6":      func(e []byte) { e[from] = 6 },
		"identity F":   func(e []byte) { clear(e[from+1 : from+1+p384.PointSize]) },
		"off-curve F":  func(e []byte) { e[from+1+60] ^= 1 },
		"compressed F": func(e []byte) { e[from+1] = 2 },
	} {
		e := append([]byte(nil), enc...)
		f(e)
		if err := new(RefreshBroadcast).UnmarshalBinary(e); !errors.Is(err, ErrDecode) {
			t.Errorf("broadcast %s: %v", name, err)
		}
	}
	enc, _ = d.MarshalBinary()
	const to = 2 + 3*32 + 1
	const share = to + 1 + 32
	for name, f := range map[string]func([]byte){
		"to self":   func(e []byte) { e[to] = 2 },
		"to 7":      func(e []byte) { e[to] = 7 },
		"share = n": func(e []byte) { copy(e[share:], p384.Order()) },
		"share ≥ n": func(e []byte) { copy(e[share:], bytes.Repeat([]byte{0xff}, p384.ScalarSize)) },
	} {
		e := append([]byte(nil), enc...)
		f(e)
		if err := new(RefreshDirect).UnmarshalBinary(e); !errors.Is(err, ErrDecode) {
			t.Errorf("share %s: %v", name, err)
		}
	}
	if _, err := (&RefreshDirect{From: 3, To: 3}).MarshalBinary(); err == nil {
		t.Error("marshalled a share to self")
	}
	if _, err := (&RefreshConfirm{From: 0}).MarshalBinary(); err == nil {
		t.Error("marshalled party 0")
	}
	if _, err := (&RefreshBroadcast{From: 6}).MarshalBinary(); err == nil {
		t.Error("marshalled party 6")
	}
	if !d.Confidential() || b.Confidential() || c.Confidential() {
		t.Error("confidentiality flags")
	}
	d.Zeroize()
	if d.Share != ([p384.ScalarSize]byte{}) {
		t.Error("Zeroize left the share")
	}
}

func FuzzRefreshBroadcast(f *testing.F) {
	m := &RefreshBroadcast{From: 3, Coeffs: [refreshCoeffs][p384.PointSize]byte{seedPoint(), seedPoint()}}
	fuzzDecoder(f, func() codec { return new(RefreshBroadcast) }, m)
}

func FuzzRefreshDirect(f *testing.F) {
	fuzzDecoder(f, func() codec { return new(RefreshDirect) }, &RefreshDirect{From: 1, To: 5, Share: seedScalar()})
}

func FuzzRefreshConfirm(f *testing.F) {
	fuzzDecoder(f, func() codec { return new(RefreshConfirm) }, &RefreshConfirm{From: 4})
}

// BenchmarkRefresh measures one complete refresh of all Parties shares in
// one goroutine (ns/op is the whole cluster's CPU; divide by Parties for one
// node).
func BenchmarkRefresh(b *testing.B) {
	fix := testShares(b)
	for b.Loop() {
		refreshAll(b, cloneShares(fix))
	}
}

// TestSignerSuccessor: the Signer that follows a refresh keeps the
// remembered session ids and the bans, wipes the presignatures of the
// previous sharing, and signs with the refreshed shares.
func TestSignerSuccessor(t *testing.T) {
	fix := confirmedShares(t)
	ks := cloneShares(fix)
	ss := newSigners(t, ks, SignerConfig{})
	set := []int{1, 2, 3}
	used := randomSID()
	old, err := runPresign(t, ss, set, used, nil)
	if err != nil {
		t.Fatal(err)
	}
	ss[1].Ban(4, "test ban")
	if _, err := ss[1].Successor(ks[1]); !errors.Is(err, ErrState) {
		t.Fatalf("successor before the refresh committed: %v", err)
	}
	ns := refreshAll(t, ks)
	if _, err := ss[1].Successor(ns[2]); !errors.Is(err, ErrConfig) {
		t.Fatalf("successor for another party: %v", err)
	}
	var next [Parties + 1]*Signer
	for i := 1; i <= Parties; i++ {
		if next[i], err = ss[i].Successor(ns[i]); err != nil {
			t.Fatalf("party %d: %v", i, err)
		}
	}
	d := sha384([]byte("successor"))
	for _, i := range set {
		if _, err := Sign(old[i], d); !errors.Is(err, ErrConsumed) {
			t.Fatalf("party %d: presignature of the previous sharing still signs: %v", i, err)
		}
	}
	if _, err := next[1].NewPresign(used, set); !errors.Is(err, ErrSessionReused) {
		t.Fatalf("session id forgotten across the refresh: %v", err)
	}
	if !next[1].Banned(4) || next[2].Banned(4) {
		t.Fatal("bans not carried over exactly")
	}
	ps, err := runPresign(t, next, set, randomSID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := Combine(ns[1].PublicKey(), d, signAll(t, ps, set, d))
	if err != nil || !stdecdsa.VerifyASN1(fix[1].PublicKey(), d, sig) {
		t.Fatalf("signature after the refresh: %v", err)
	}
}
