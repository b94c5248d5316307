package ecdsa

import (
	"crypto/subtle"
	"fmt"
	"io"
	"sync"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/baseot"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/schnorr"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/transcript"
)

// DKGConfig configures one party's run of the distributed key generation.
type DKGConfig struct {
	// Self is this party's index (1..Parties), taken from configuration bound
	// to the node's attested identity, never from a message.
	Self int
	// SessionID is the DKG session id. It must be fresh: the caller must
	// refuse a session id it has seen before.
	SessionID [32]byte
	// Rand is the randomness source (crypto/rand.Reader in production); it
	// must be safe for concurrent use (per-peer work runs in parallel).
	Rand io.Reader
}

// DKG is one party's state machine for the dealerless key generation:
// Feldman VSS with commit-then-reveal and Schnorr proofs of knowledge,
// publicly checkable share complaints, an echo digest against equivocating
// broadcasts, VSOT base OTs for every ordered pair and zero-share seeds for
// every pair. All Parties must take part; any fault aborts the run.
//
// Rounds: Round1 → Round2 → Round3 → Round4 → Round5 → Finish. Each round
// takes the messages the other parties produced in the previous round (one
// broadcast and/or one direct message from each other party) and returns this
// party's messages. Broadcast messages must reach every party unchanged
// (the echo digest detects equivocation); direct messages are confidential.
// A DKG is single-use; its methods must be called from one goroutine at a time.
type DKG struct {
	cfg   DKGConfig
	round int

	coeffs [Threshold]*p384.Scalar
	bc1    [Parties + 1]*DKGRound1Broadcast
	bc2    [Parties + 1]*DKGRound2Broadcast
	zs     [Parties + 1][32]byte // own zero-seed contributions
	zc     [Parties + 1][32]byte // peers' zero-seed commitments to us
	zseed  [Parties + 1][32]byte
	otS    [Parties + 1]*baseot.Sender
	otR    [Parties + 1]*baseot.Receiver
	x      *p384.Scalar
	pk     *p384.Point
	X      [Parties + 1]*p384.Point
	echo   [32]byte
	share  *KeyShare
}

// NewDKG creates a party's DKG state.
func NewDKG(cfg DKGConfig) (*DKG, error) {
	if cfg.Self < 1 || cfg.Self > Parties {
		return nil, fmt.Errorf("%w: self index %d", ErrConfig, cfg.Self)
	}
	if cfg.Rand == nil {
		return nil, fmt.Errorf("%w: nil randomness source", ErrConfig)
	}
	return &DKG{cfg: cfg}, nil
}

func (d *DKG) ctx(sender, receiver, round int) transcript.Context {
	return transcript.Context{SessionID: d.cfg.SessionID, Sender: uint32(sender), Receiver: uint32(receiver), Round: uint32(round)}
}

func (d *DKG) fail(err error) error {
	d.round = -1
	for _, c := range d.coeffs {
		if c != nil {
			c.Zeroize()
		}
	}
	if d.x != nil {
		d.x.Zeroize()
	}
	clear(d.zs[:])
	clear(d.zseed[:])
	if d.share != nil {
		d.share.Zeroize()
	}
	return err
}

func (d *DKG) step(want int) error {
	if d.round != want {
		return ErrState
	}
	d.round = -1 // reset to want+1 on success
	return nil
}

func (d *DKG) peers() []int {
	var out []int
	for j := 1; j <= Parties; j++ {
		if j != d.cfg.Self {
			out = append(out, j)
		}
	}
	return out
}

// collect indexes messages by sender, requiring exactly one message from each
// other party addressed to self (to == 0 for broadcasts).
func collect[T any](self int, msgs []T, from, to func(T) int) ([Parties + 1]T, error) {
	var out [Parties + 1]T
	var seen [Parties + 1]bool
	for _, m := range msgs {
		f := from(m)
		if f < 1 || f > Parties || f == self {
			return out, abort(0, "message with invalid sender", ErrDecode)
		}
		if to != nil && to(m) != self {
			return out, abort(f, "message addressed to another party", ErrDecode)
		}
		if seen[f] {
			return out, abort(f, "duplicate message", ErrDecode)
		}
		seen[f] = true
		out[f] = m
	}
	for j := 1; j <= Parties; j++ {
		if j != self && !seen[j] {
			return out, abort(j, "missing message", ErrDecode)
		}
	}
	return out, nil
}

// routed is a DKG message that names its sender (and, for direct
// messages, its receiver); the methods return 0 for a nil message, which
// collect then refuses.
type routed interface {
	sender() int
	receiver() int
}

// collectBroadcast collects one broadcast from every other party.
func collectBroadcast[T routed](self int, msgs []T) ([Parties + 1]T, error) {
	return collect(self, msgs, T.sender, nil)
}

// collectDirect collects one direct message to self from every other party.
func collectDirect[T routed](self int, msgs []T) ([Parties + 1]T, error) {
	return collect(self, msgs, T.sender, T.receiver)
}

func dkgCommit(sid [32]byte, i int, m *DKGRound2Broadcast) [32]byte {
	t := transcript.New("dkg/commit").Bytes(sid[:]).Uint32(uint32(i))
	for k := range m.Coeffs {
		t.Bytes(m.Coeffs[k][:])
	}
	return t.Bytes(m.Proof[:]).Sum32()
}

func seedCommit(sid [32]byte, i, j int, z []byte) [32]byte {
	return transcript.New("dkg/zero-seed-commit").Bytes(sid[:]).Uint32(uint32(i)).Uint32(uint32(j)).Bytes(z).Sum32()
}

// Round1 samples the sharing polynomial and starts the base OTs in which
// this party is the base-OT sender.
func (d *DKG) Round1() (*DKGRound1Broadcast, []*DKGRound1Direct, error) {
	if err := d.step(0); err != nil {
		return nil, nil, err
	}
	i := d.cfg.Self
	my := &DKGRound2Broadcast{From: i}
	for k := range d.coeffs {
		c, err := p384.NewScalar().RandomNonZero(d.cfg.Rand)
		if err != nil {
			return nil, nil, d.fail(err)
		}
		d.coeffs[k] = c
		copy(my.Coeffs[k][:], p384.BaseMul(c).Bytes())
	}
	A0, _ := p384.ParsePoint(my.Coeffs[0][:])
	ctx := d.ctx(i, 0, 1)
	proof, err := schnorr.Prove(d.cfg.Rand, "dkg/a0", &ctx, d.coeffs[0], A0)
	if err != nil {
		return nil, nil, d.fail(err)
	}
	copy(my.Proof[:], proof)
	d.bc2[i] = my
	d.bc1[i] = &DKGRound1Broadcast{From: i, Commit: dkgCommit(d.cfg.SessionID, i, my)}
	var direct []*DKGRound1Direct
	for _, j := range d.peers() {
		m := &DKGRound1Direct{From: i, To: j}
		if _, err := io.ReadFull(d.cfg.Rand, d.zs[j][:]); err != nil {
			return nil, nil, d.fail(err)
		}
		m.SeedCommit = seedCommit(d.cfg.SessionID, i, j, d.zs[j][:])
		s, msg, err := baseot.NewSender(d.cfg.Rand, d.ctx(i, j, 0))
		if err != nil {
			return nil, nil, d.fail(err)
		}
		d.otS[j] = s
		copy(m.OT[:], msg)
		direct = append(direct, m)
	}
	d.round = 1
	return d.bc1[i], direct, nil
}

// Round2 records the commitments, answers the peers' base OTs and reveals
// the coefficients, shares and zero-seed contributions.
func (d *DKG) Round2(bc []*DKGRound1Broadcast, dm []*DKGRound1Direct) (*DKGRound2Broadcast, []*DKGRound2Direct, error) {
	if err := d.step(1); err != nil {
		return nil, nil, err
	}
	i := d.cfg.Self
	b, err := collectBroadcast(i, bc)
	if err != nil {
		return nil, nil, d.fail(err)
	}
	in, err := collectDirect(i, dm)
	if err != nil {
		return nil, nil, d.fail(err)
	}
	var outs [Parties + 1]*DKGRound2Direct
	err = forEach(d.peers(), func(j int) error {
		r, msg, err := baseot.NewReceiver(d.cfg.Rand, d.ctx(j, i, 0), in[j].OT[:])
		if err != nil {
			return abort(j, "base OT message 1", err)
		}
		d.otR[j] = r
		m := &DKGRound2Direct{From: i, To: j, Seed: d.zs[j]}
		copy(m.OT[:], msg)
		outs[j] = m
		return nil
	})
	if err != nil {
		return nil, nil, d.fail(err)
	}
	var direct []*DKGRound2Direct
	for _, j := range d.peers() {
		d.bc1[j] = b[j]
		d.zc[j] = in[j].SeedCommit
		evalPoly(d.coeffs[:], j).PutBytes(outs[j].Share[:])
		direct = append(direct, outs[j])
	}
	d.round = 2
	return d.bc2[i], direct, nil
}

// forEach runs f for every peer concurrently (the per-peer work is
// independent) and returns the error of the first failing peer in order.
func forEach(peers []int, f func(j int) error) error {
	var wg sync.WaitGroup
	var errs [Parties + 1]error
	for _, j := range peers[1:] {
		wg.Add(1)
		go func() { defer wg.Done(); errs[j] = f(j) }()
	}
	errs[peers[0]] = f(peers[0])
	wg.Wait()
	for _, j := range peers {
		if errs[j] != nil {
			return errs[j]
		}
	}
	return nil
}

func evalPoly(coeffs []*p384.Scalar, at int) *p384.Scalar {
	x := p384.ScalarFromUint64(uint64(at))
	acc := p384.NewScalar()
	for k := len(coeffs) - 1; k >= 0; k-- {
		acc.Mul(acc, x)
		acc.Add(acc, coeffs[k])
	}
	return acc
}

// evalCommit returns Σ_k at^k·A_k.
func evalCommit(A []*p384.Point, at int) *p384.Point {
	acc := p384.NewIdentity()
	x := p384.ScalarFromUint64(uint64(at))
	for k := len(A) - 1; k >= 0; k-- {
		acc = p384.Mul(acc, x)
		acc = p384.Add(acc, A[k])
	}
	return acc
}

func parseCoeffs(m *DKGRound2Broadcast) ([]*p384.Point, error) {
	A := make([]*p384.Point, Threshold)
	for k := range A {
		p, err := p384.ParsePoint(m.Coeffs[k][:])
		if err != nil {
			return nil, err
		}
		A[k] = p
	}
	return A, nil
}

// Complaint is publicly checkable evidence that a dealer's share did not
// match its Feldman commitments. Share is the accused's direct message as
// received; the transport's signature on that message authenticates it.
type Complaint struct {
	Accuser, Accused int
	SessionID        [32]byte
	Share            *DKGRound2Direct
}

// VerifyComplaint lets any party decide a complaint given the accused's
// round-2 broadcast (whose hash every party holds from round 1). It returns
// the faulty party: the accused if its share is inconsistent with its
// commitments, otherwise the accuser.
func VerifyComplaint(c *Complaint, accused *DKGRound2Broadcast) (int, error) {
	if c == nil || c.Share == nil || accused == nil || accused.From != c.Accused ||
		c.Share.From != c.Accused || c.Share.To != c.Accuser {
		return 0, fmt.Errorf("%w: complaint does not match the accused's messages", ErrDecode)
	}
	A, err := parseCoeffs(accused)
	if err != nil {
		return c.Accused, nil
	}
	s, err := p384.NewScalar().SetBytes(c.Share.Share[:])
	if err != nil || !p384.Equal(p384.BaseMul(s), evalCommit(A, c.Accuser)) {
		return c.Accused, nil
	}
	return c.Accuser, nil
}

// Round3 verifies the openings, proofs, shares and zero seeds, computes the
// key share and public key, and sends the echo digest.
func (d *DKG) Round3(bc []*DKGRound2Broadcast, dm []*DKGRound2Direct) (*DKGRound3Broadcast, []*DKGOTDirect, error) {
	if err := d.step(2); err != nil {
		return nil, nil, err
	}
	i := d.cfg.Self
	sid := d.cfg.SessionID
	b, err := collectBroadcast(i, bc)
	if err != nil {
		return nil, nil, d.fail(err)
	}
	in, err := collectDirect(i, dm)
	if err != nil {
		return nil, nil, d.fail(err)
	}
	var A [Parties + 1][]*p384.Point
	A[i], _ = parseCoeffs(d.bc2[i])
	d.x = evalPoly(d.coeffs[:], i)
	for _, j := range d.peers() {
		c := dkgCommit(sid, j, b[j])
		if subtle.ConstantTimeCompare(c[:], d.bc1[j].Commit[:]) != 1 {
			return nil, nil, d.fail(abort(j, "coefficient commitment does not open", nil))
		}
		d.bc2[j] = b[j]
		if A[j], err = parseCoeffs(b[j]); err != nil {
			return nil, nil, d.fail(abort(j, "invalid coefficient commitment", err))
		}
		ctx := d.ctx(j, 0, 1)
		if err := schnorr.Verify("dkg/a0", &ctx, A[j][0], b[j].Proof[:]); err != nil {
			return nil, nil, d.fail(abort(j, "proof of knowledge of a_0", err))
		}
		s, err := p384.NewScalar().SetBytes(in[j].Share[:])
		if err != nil || !p384.Equal(p384.BaseMul(s), evalCommit(A[j], i)) {
			e := abort(j, "share inconsistent with Feldman commitments", err)
			e.Complaint = &Complaint{Accuser: i, Accused: j, SessionID: sid, Share: in[j]}
			return nil, nil, d.fail(e)
		}
		d.x.Add(d.x, s)
		s.Zeroize()
		zc := seedCommit(sid, j, i, in[j].Seed[:])
		if subtle.ConstantTimeCompare(zc[:], d.zc[j][:]) != 1 {
			return nil, nil, d.fail(abort(j, "zero-seed contribution does not open", nil))
		}
		lo, hi := i, j
		zlo, zhi := d.zs[j][:], in[j].Seed[:]
		if j < i {
			lo, hi, zlo, zhi = j, i, zhi, zlo
		}
		d.zseed[j] = transcript.New("dkg/zero-seed").Bytes(sid[:]).Uint32(uint32(lo)).Uint32(uint32(hi)).Bytes(zlo).Bytes(zhi).Sum32()
	}
	// PK = Σ A_j0 and X_k = Σ_j f_j(k)·G.
	d.pk = p384.NewIdentity()
	for j := 1; j <= Parties; j++ {
		d.pk = p384.Add(d.pk, A[j][0])
	}
	if p384.IsIdentity(d.pk) {
		return nil, nil, d.fail(abort(0, "public key is the identity", nil))
	}
	for k := 1; k <= Parties; k++ {
		X := p384.NewIdentity()
		for j := 1; j <= Parties; j++ {
			X = p384.Add(X, evalCommit(A[j], k))
		}
		if p384.IsIdentity(X) {
			return nil, nil, d.fail(abort(0, "public share is the identity", nil))
		}
		d.X[k] = X
	}
	if !p384.Equal(p384.BaseMul(d.x), d.X[i]) {
		return nil, nil, d.fail(abort(0, "own share inconsistent with public shares", nil))
	}
	// Every Threshold-subset of public shares must interpolate to PK.
	for _, set := range Subsets() {
		acc := p384.NewIdentity()
		for _, k := range set {
			acc = p384.Add(acc, p384.Mul(d.X[k], lagrange(set, k)))
		}
		if !p384.Equal(acc, d.pk) {
			return nil, nil, d.fail(abort(0, "public shares do not interpolate to the public key", nil))
		}
	}
	d.echo = d.echoDigest()
	ctx := d.ctx(i, 0, 3)
	proof, err := schnorr.Prove(d.cfg.Rand, "dkg/share", &ctx, d.x, d.X[i])
	if err != nil {
		return nil, nil, d.fail(err)
	}
	out := &DKGRound3Broadcast{From: i, Echo: d.echo}
	copy(out.Proof[:], proof)
	var outs [Parties + 1]*DKGOTDirect
	err = forEach(d.peers(), func(j int) error {
		msg, err := d.otS[j].Round2(in[j].OT[:])
		if err != nil {
			return abort(j, "base OT message 2", err)
		}
		outs[j] = &DKGOTDirect{Round: 3, From: i, To: j, OT: msg}
		return nil
	})
	if err != nil {
		return nil, nil, d.fail(err)
	}
	var direct []*DKGOTDirect
	for _, j := range d.peers() {
		direct = append(direct, outs[j])
	}
	d.round = 3
	return out, direct, nil
}

func (d *DKG) echoDigest() [32]byte {
	t := transcript.New("dkg/echo").Bytes(d.cfg.SessionID[:])
	for j := 1; j <= Parties; j++ {
		t.Bytes(d.bc1[j].Commit[:])
		for k := range d.bc2[j].Coeffs {
			t.Bytes(d.bc2[j].Coeffs[k][:])
		}
		t.Bytes(d.bc2[j].Proof[:])
	}
	t.Point(d.pk)
	for k := 1; k <= Parties; k++ {
		t.Point(d.X[k])
	}
	return t.Sum32()
}

func otCollect(self, round int, dm []*DKGOTDirect) ([Parties + 1]*DKGOTDirect, error) {
	in, err := collectDirect(self, dm)
	if err != nil {
		return in, err
	}
	for j := 1; j <= Parties; j++ {
		if j != self && in[j].Round != round {
			return in, abort(j, "base-OT message for the wrong round", ErrDecode)
		}
	}
	return in, nil
}

// Round4 checks the echo digests and share proofs and continues the base OTs.
func (d *DKG) Round4(bc []*DKGRound3Broadcast, dm []*DKGOTDirect) ([]*DKGOTDirect, error) {
	if err := d.step(3); err != nil {
		return nil, err
	}
	i := d.cfg.Self
	b, err := collectBroadcast(i, bc)
	if err != nil {
		return nil, d.fail(err)
	}
	in, err := otCollect(i, 3, dm)
	if err != nil {
		return nil, d.fail(err)
	}
	var direct []*DKGOTDirect
	for _, j := range d.peers() {
		if subtle.ConstantTimeCompare(b[j].Echo[:], d.echo[:]) != 1 {
			return nil, d.fail(abort(j, "echo digest mismatch: a broadcast was equivocated (by this sender or another; the transport-signed broadcasts identify whom)", nil))
		}
		ctx := d.ctx(j, 0, 3)
		if err := schnorr.Verify("dkg/share", &ctx, d.X[j], b[j].Proof[:]); err != nil {
			return nil, d.fail(abort(j, "proof of knowledge of the share", err))
		}
		msg, err := d.otR[j].Round3(in[j].OT)
		if err != nil {
			return nil, d.fail(abort(j, "base OT message 3", err))
		}
		direct = append(direct, &DKGOTDirect{Round: 4, From: i, To: j, OT: msg})
	}
	d.round = 4
	return direct, nil
}

// Round5 verifies the peers' base-OT responses and sends the openings.
func (d *DKG) Round5(dm []*DKGOTDirect) ([]*DKGOTDirect, error) {
	if err := d.step(4); err != nil {
		return nil, err
	}
	i := d.cfg.Self
	in, err := otCollect(i, 4, dm)
	if err != nil {
		return nil, d.fail(err)
	}
	var direct []*DKGOTDirect
	for _, j := range d.peers() {
		msg, err := d.otS[j].Round4(in[j].OT)
		if err != nil {
			return nil, d.fail(abort(j, "base OT message 4", err))
		}
		direct = append(direct, &DKGOTDirect{Round: 5, From: i, To: j, OT: msg})
	}
	d.round = 5
	return direct, nil
}

// Finish verifies the base-OT openings and returns the key share. The share
// is unconfirmed until ConfirmKey succeeds.
func (d *DKG) Finish(dm []*DKGOTDirect) (*KeyShare, error) {
	if err := d.step(5); err != nil {
		return nil, err
	}
	i := d.cfg.Self
	in, err := otCollect(i, 5, dm)
	if err != nil {
		return nil, d.fail(err)
	}
	ks := &KeyShare{self: i, x: d.x, pk: d.pk, shares: d.X}
	ks.keyID = deriveKeyID(d.cfg.SessionID, d.pk, &d.X)
	d.share = ks
	for _, j := range d.peers() {
		ro, err := d.otR[j].Round5(in[j].OT)
		if err != nil {
			return nil, d.fail(abort(j, "base OT message 5", err))
		}
		so, err := d.otS[j].Output()
		if err != nil {
			return nil, d.fail(abort(j, "base OT output", err))
		}
		ks.setPair(j, ro, so, d.zseed[j], d.cfg.SessionID)
	}
	for _, c := range d.coeffs {
		c.Zeroize()
	}
	clear(d.zs[:])
	clear(d.zseed[:])
	d.share = nil
	d.x = nil
	d.round = 6
	return ks, nil
}
