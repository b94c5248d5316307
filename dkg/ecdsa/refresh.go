package ecdsa

import (
	"errors"
	"fmt"
	"io"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/transcript"
)

// Proactive share refresh. When the membership of the cluster changes (a
// node index gets a new holder, which first receives its share through
// ReshareContribution/NewReplacementShare), all Parties holders of the
// current shares re-randomise the Shamir sharing of the same key, so that
// whatever a former holder of an index kept is useless together with the
// shares of the new epoch.
//
// Round 1: party i samples f_i(z) = a_{i,1}·z + … + a_{i,T−1}·z^{T−1}
// (f_i(0) = 0, T = Threshold), broadcasts the Feldman commitments
// F_{i,k} = a_{i,k}·G and sends each party j, confidentially, f_i(j).
//
// Round 2: party j checks f_i(j)·G = Σ_k j^k·F_{i,k} for every dealer i
// (blaming i), sets x_j' = x_j + Σ_i f_i(j) and every public share
// X_m' = X_m + Σ_k m^k·(Σ_i F_{i,k}); it checks that the new public shares
// lie on one polynomial of degree Threshold−1 whose value at 0 is the
// unchanged public key, that x_j'·G = X_j', and broadcasts a digest of the
// whole refresh (prior public data, every dealer's commitments, the new
// public shares).
//
// Commit: after the digests of all other parties match its own, party j
// installs x_j' and X' in a new KeyShare (same key id, public key, pairwise
// material and confirmation state) and zeroizes x_j in the old one.

// ErrRefreshDigest is the error inside the AbortError returned when another
// party's refresh digest differs from this party's: the parties did not see
// the same commitments or do not hold the same public data.
var ErrRefreshDigest = errors.New("tecdsa: refresh digests differ between parties")

// Message type tags of the refresh messages. They are kept apart from the
// consecutive tags in wire.go so that messages added there do not collide.
const (
	tagRefreshB byte = 0x31 + iota
	tagRefreshD
	tagRefreshC
)

const (
	refreshCoeffs        = Threshold - 1
	refreshBroadcastSize = 2 + 4*32 + 1 + refreshCoeffs*p384.PointSize
	refreshDirectSize    = 2 + 3*32 + 2 + 32 + p384.ScalarSize
	refreshConfirmSize   = 2 + 3*32 + 1 + 32
)

// RefreshConfig configures one party's run of the share refresh.
type RefreshConfig struct {
	// Share is this party's current key share. It stays usable until Commit.
	Share *KeyShare
	// SessionID is the refresh session id. It must be fresh: the caller must
	// refuse a session id it has seen before.
	SessionID [32]byte
	// EpochID identifies the membership epoch the new sharing belongs to
	// (for example the cluster's membership digest). All parties must use
	// the same value.
	EpochID [32]byte
	// Rand is the randomness source (crypto/rand.Reader in production).
	Rand io.Reader
}

// Refresh is one party's single-use state machine for the share refresh:
// Round1 → Round2 → Commit (or Abort at any time before Commit). All
// Parties must take part; any fault aborts the run and leaves the old share
// untouched. Its methods must be called from one goroutine at a time.
type Refresh struct {
	cfg   RefreshConfig
	round int
	prior [32]byte // digest of the public data being refreshed
	ctxID [32]byte // session binding: key id, session id, epoch id, prior

	own    *p384.Scalar // f_self(self)
	bc     [Parties + 1]*RefreshBroadcast
	x      *p384.Scalar // x_self'
	X      [Parties + 1]*p384.Point
	digest [32]byte
}

// RefreshBroadcast carries dealer From's Feldman commitments
// F_{From,1..Threshold−1}; the constant term is the identity and is not sent.
// Prior is the digest of the public key and public shares being refreshed.
type RefreshBroadcast struct {
	SessionID, EpochID, KeyID [32]byte
	Prior                     [32]byte
	From                      int
	Coeffs                    [refreshCoeffs][p384.PointSize]byte
}

// RefreshDirect carries dealer From's share f_From(To) for party To. Bind is
// a transcript digest of the dealer's RefreshBroadcast, the session binding
// and both party indices, so the share is tied to the commitments it must
// match.
type RefreshDirect struct {
	SessionID, EpochID, KeyID [32]byte
	From, To                  int
	Bind                      [32]byte
	Share                     [p384.ScalarSize]byte
}

// RefreshConfirm carries the sender's digest of the refresh (prior public
// data, every dealer's commitments and the new public shares). Commit
// requires the digests of all parties to be equal.
type RefreshConfirm struct {
	SessionID, EpochID, KeyID [32]byte
	From                      int
	Digest                    [32]byte
}

// Confidential reports whether the transport must encrypt the message.
func (*RefreshBroadcast) Confidential() bool { return false }

// Confidential reports whether the transport must encrypt the message (it
// carries a share of a zero sharing).
func (*RefreshDirect) Confidential() bool { return true }

// Confidential reports whether the transport must encrypt the message.
func (*RefreshConfirm) Confidential() bool { return false }

// Zeroize wipes the share carried by the message; call it once the message
// has been sent.
func (m *RefreshDirect) Zeroize() { clear(m.Share[:]) }

func (m *RefreshBroadcast) sender() int   { return fromOf(m != nil, func() int { return m.From }) }
func (m *RefreshBroadcast) receiver() int { return 0 }
func (m *RefreshDirect) sender() int      { return fromOf(m != nil, func() int { return m.From }) }
func (m *RefreshDirect) receiver() int    { return fromOf(m != nil, func() int { return m.To }) }
func (m *RefreshConfirm) sender() int     { return fromOf(m != nil, func() int { return m.From }) }
func (m *RefreshConfirm) receiver() int   { return 0 }

// NewRefresh creates a party's refresh state for cfg.Share.
func NewRefresh(cfg RefreshConfig) (*Refresh, error) {
	if cfg.Share == nil || cfg.Rand == nil {
		return nil, fmt.Errorf("%w: refresh needs a key share and a randomness source", ErrConfig)
	}
	k := cfg.Share
	if k.zeroized.Load() {
		return nil, fmt.Errorf("%w: key share zeroized", ErrState)
	}
	r := &Refresh{cfg: cfg}
	r.prior = refreshPrior(k)
	r.ctxID = transcript.New("refresh/session").Bytes(k.keyID[:]).Bytes(cfg.SessionID[:]).
		Bytes(cfg.EpochID[:]).Bytes(r.prior[:]).Sum32()
	return r, nil
}

// SharingDigest returns the digest of the sharing k belongs to: the key id,
// the public key and every public share. All holders of one sharing compute
// the same value; a refresh changes it. Relays can bind a refresh's
// messages to it, so that a message from a run on another sharing is
// refused as out of context before the protocol sees it.
func (k *KeyShare) SharingDigest() [32]byte { return refreshPrior(k) }

// refreshPrior is the digest of the public data a refresh starts from.
func refreshPrior(k *KeyShare) [32]byte {
	t := transcript.New("refresh/prior").Bytes(k.keyID[:]).Point(k.pk)
	for m := 1; m <= Parties; m++ {
		t.Point(k.shares[m])
	}
	return t.Sum32()
}

func (r *Refresh) ctx(sender, receiver, round int) *transcript.Context {
	return &transcript.Context{KeyID: r.cfg.Share.keyID, SessionID: r.ctxID,
		Sender: uint32(sender), Receiver: uint32(receiver), Round: uint32(round)}
}

// commitDigest hashes dealer m.From's broadcast under the session binding.
func (r *Refresh) commitDigest(m *RefreshBroadcast) [32]byte {
	t := transcript.New("refresh/commitments").Context(r.ctx(m.From, 0, 1))
	for k := range m.Coeffs {
		t.Bytes(m.Coeffs[k][:])
	}
	return t.Sum32()
}

// shareBind binds a direct message from i to j to i's broadcast.
func (r *Refresh) shareBind(i, j int, commit [32]byte) [32]byte {
	return transcript.New("refresh/share-binding").Context(r.ctx(i, j, 1)).Bytes(commit[:]).Sum32()
}

func (r *Refresh) fail(err error) error {
	r.round = -1
	if r.own != nil {
		r.own.Zeroize()
	}
	if r.x != nil {
		r.x.Zeroize()
	}
	return err
}

func (r *Refresh) header(sid, epoch, kid [32]byte) bool {
	return sid == r.cfg.SessionID && epoch == r.cfg.EpochID && kid == r.cfg.Share.keyID
}

// evalZero returns Σ_{k=1}^{T−1} a_k·x^k.
func evalZero(a *[refreshCoeffs]*p384.Scalar, x int) *p384.Scalar {
	X := p384.ScalarFromUint64(uint64(x))
	pow := p384.ScalarFromUint64(1)
	out := p384.NewScalar()
	for k := range a {
		pow.Mul(pow, X)
		out.Add(out, p384.NewScalar().Mul(a[k], pow))
	}
	return out
}

// refreshPoly returns the commitment vector of dealer broadcast m with the
// identity as constant term, in the layout evalCommit expects.
func refreshPoly(m *RefreshBroadcast) ([]*p384.Point, error) {
	A := make([]*p384.Point, Threshold)
	A[0] = p384.NewIdentity()
	for n := range m.Coeffs {
		p, err := p384.ParsePoint(m.Coeffs[n][:])
		if err != nil {
			return nil, err
		}
		A[n+1] = p
	}
	return A, nil
}

// Round1 samples this party's zero-constant polynomial and returns its
// commitment broadcast and one confidential share for every other party.
// The caller should Zeroize the direct messages once they are sent.
func (r *Refresh) Round1() (*RefreshBroadcast, []*RefreshDirect, error) {
	if r.round != 0 {
		return nil, nil, ErrState
	}
	r.round = -1
	k := r.cfg.Share
	if k.zeroized.Load() {
		return nil, nil, r.fail(fmt.Errorf("%w: key share zeroized", ErrState))
	}
	i := k.self
	var a [refreshCoeffs]*p384.Scalar
	defer func() {
		for _, c := range a {
			if c != nil {
				c.Zeroize()
			}
		}
	}()
	bc := &RefreshBroadcast{SessionID: r.cfg.SessionID, EpochID: r.cfg.EpochID, KeyID: k.keyID, Prior: r.prior, From: i}
	for n := range a {
		c, err := p384.NewScalar().RandomNonZero(r.cfg.Rand)
		if err != nil {
			return nil, nil, r.fail(fmt.Errorf("tecdsa: refresh coefficient: %w", err))
		}
		a[n] = c
		copy(bc.Coeffs[n][:], p384.BaseMul(c).Bytes())
	}
	commit := r.commitDigest(bc)
	var direct []*RefreshDirect
	for j := 1; j <= Parties; j++ {
		s := evalZero(&a, j)
		if j == i {
			r.own = s
			continue
		}
		m := &RefreshDirect{SessionID: r.cfg.SessionID, EpochID: r.cfg.EpochID, KeyID: k.keyID, From: i, To: j,
			Bind: r.shareBind(i, j, commit)}
		s.PutBytes(m.Share[:])
		s.Zeroize()
		direct = append(direct, m)
	}
	r.bc[i] = bc
	r.round = 1
	return bc, direct, nil
}

// Round2 checks the other parties' commitments and shares, computes this
// party's new share and every new public share, and returns the digest
// broadcast for Commit. A share that does not match its dealer's
// commitments aborts blaming the dealer; so does a message of another
// session, epoch, key or prior state, a duplicate or a missing message.
func (r *Refresh) Round2(bcasts []*RefreshBroadcast, directs []*RefreshDirect) (*RefreshConfirm, error) {
	if r.round != 1 {
		return nil, ErrState
	}
	r.round = -1
	k := r.cfg.Share
	self := k.self
	bc, err := collectBroadcast(self, bcasts)
	if err != nil {
		return nil, r.fail(err)
	}
	dm, err := collectDirect(self, directs)
	if err != nil {
		return nil, r.fail(err)
	}
	bc[self] = r.bc[self]
	var F [Parties + 1][]*p384.Point
	for i := 1; i <= Parties; i++ {
		m := bc[i]
		if !r.header(m.SessionID, m.EpochID, m.KeyID) || m.Prior != r.prior {
			return nil, r.fail(abort(i, "refresh commitments for another session, epoch, key or prior state", ErrDecode))
		}
		if F[i], err = refreshPoly(m); err != nil {
			return nil, r.fail(abort(i, "invalid refresh commitment", err))
		}
	}
	x := p384.NewScalar().Set(k.x)
	r.x = x
	x.Add(x, r.own)
	r.own.Zeroize()
	for i := 1; i <= Parties; i++ {
		if i == self {
			continue
		}
		m := dm[i]
		if !r.header(m.SessionID, m.EpochID, m.KeyID) {
			return nil, r.fail(abort(i, "refresh share for another session, epoch or key", ErrDecode))
		}
		if m.Bind != r.shareBind(i, self, r.commitDigest(bc[i])) {
			return nil, r.fail(abort(i, "refresh share bound to other commitments", nil))
		}
		s, err := p384.NewScalar().SetBytes(m.Share[:])
		if err != nil {
			return nil, r.fail(abort(i, "invalid refresh share", err))
		}
		ok := p384.Equal(p384.BaseMul(s), evalCommit(F[i], self))
		x.Add(x, s)
		s.Zeroize()
		if !ok {
			return nil, r.fail(abort(i, "refresh share inconsistent with Feldman commitments", nil))
		}
	}
	// Sum the commitments over the dealers, then update every public share.
	sum := make([]*p384.Point, Threshold)
	for n := range sum {
		sum[n] = p384.NewIdentity()
		for i := 1; i <= Parties; i++ {
			sum[n] = p384.Add(sum[n], F[i][n])
		}
	}
	for m := 1; m <= Parties; m++ {
		r.X[m] = p384.Add(k.shares[m], evalCommit(sum, m))
		if p384.IsIdentity(r.X[m]) {
			return nil, r.fail(abort(0, "refreshed public share is the identity", nil))
		}
	}
	if err := checkSharing(&r.X, k.pk); err != nil {
		return nil, r.fail(err)
	}
	if !p384.Equal(p384.BaseMul(x), r.X[self]) {
		return nil, r.fail(abort(0, "refreshed share does not match its public share", nil))
	}
	t := transcript.New("refresh/digest").Context(r.ctx(0, 0, 2)).Bytes(r.prior[:]).Point(k.pk)
	for i := 1; i <= Parties; i++ {
		c := r.commitDigest(bc[i])
		t.Bytes(c[:])
	}
	for m := 1; m <= Parties; m++ {
		t.Point(r.X[m])
	}
	r.digest = t.Sum32()
	r.round = 2
	return &RefreshConfirm{SessionID: r.cfg.SessionID, EpochID: r.cfg.EpochID, KeyID: k.keyID, From: self, Digest: r.digest}, nil
}

// checkSharing checks that X_1..X_Parties lie on one polynomial of degree
// Threshold−1 with value pk at 0: the polynomial through X_1..X_Threshold
// must give pk at 0 and X_m at every other index m, so every
// Threshold-subset then interpolates to pk.
func checkSharing(X *[Parties + 1]*p384.Point, pk *p384.Point) error {
	base := make([]int, Threshold)
	for n := range base {
		base[n] = n + 1
	}
	at := func(x int) *p384.Point {
		acc := p384.NewIdentity()
		for _, h := range base {
			acc = p384.Add(acc, p384.Mul(X[h], lagrangeAt(base, h, x)))
		}
		return acc
	}
	if !p384.Equal(at(0), pk) {
		return abort(0, "refreshed public shares do not interpolate to the public key", nil)
	}
	for m := Threshold + 1; m <= Parties; m++ {
		if !p384.Equal(at(m), X[m]) {
			return abort(0, "refreshed public shares are not a sharing of degree Threshold-1", nil)
		}
	}
	return nil
}

// Digest returns this party's refresh digest (valid after Round2). Equal
// digests on two parties mean they saw the same commitments and derived
// the same new public shares from the same prior public data.
func (r *Refresh) Digest() [32]byte { return r.digest }

// Commit checks that every other party's RefreshConfirm carries this
// party's digest and then switches to the new sharing: it returns a new
// KeyShare with the refreshed share x' and public shares X', the same key
// id, public key and confirmation state, and the old share's pairwise
// material (moved, not copied); it zeroizes x in the old share, which is
// unusable afterwards. No signing session may be running on the old share,
// and Signers built on it must be discarded: they refuse new sessions, but
// presignatures already in their pool stay signable until consumed or
// expired (they combine only within their own session, so they are of no
// use to a former holder).
// A digest mismatch aborts blaming the sender of the mismatching digest
// (ErrRefreshDigest) and leaves the old share untouched.
//
// A party that aborts, or never reaches Commit, while the others commit is
// left with a share of the previous sharing, which does not combine with the
// new one; it recovers like a replacement node (NewReplacementShare from
// Threshold refreshed parties).
func (r *Refresh) Commit(confirms []*RefreshConfirm) (*KeyShare, error) {
	if r.round != 2 {
		return nil, ErrState
	}
	r.round = -1
	k := r.cfg.Share
	in, err := collectBroadcast(k.self, confirms)
	if err != nil {
		return nil, r.fail(err)
	}
	for i := 1; i <= Parties; i++ {
		if i == k.self {
			continue
		}
		m := in[i]
		if !r.header(m.SessionID, m.EpochID, m.KeyID) {
			return nil, r.fail(abort(i, "refresh digest for another session, epoch or key", ErrDecode))
		}
		if m.Digest != r.digest {
			return nil, r.fail(abort(i, "refresh digest differs", ErrRefreshDigest))
		}
	}
	ns := &KeyShare{self: k.self, keyID: k.keyID, x: r.x, pk: k.pk, shares: r.X}
	r.x = nil
	k.mu.Lock()
	if k.zeroized.Load() {
		k.mu.Unlock()
		ns.x.Zeroize()
		return nil, fmt.Errorf("%w: key share zeroized during the refresh", ErrState)
	}
	k.zeroized.Store(true)
	k.x.Zeroize()
	ns.pairs = k.pairs
	k.pairs = [Parties + 1]*pairMaterial{}
	k.mu.Unlock()
	ns.confirm.Store(k.confirm.Load())
	r.round = 3
	return ns, nil
}

// Abort ends the refresh without changing the old share and zeroizes the
// refresh's secrets. It is a no-op after Commit.
func (r *Refresh) Abort() {
	if r.round == 3 {
		return
	}
	r.fail(nil)
}

func validParty(i int) bool { return i >= 1 && i <= Parties }

// MarshalBinary encodes the message.
func (m *RefreshBroadcast) MarshalBinary() ([]byte, error) {
	if !validParty(m.From) {
		return nil, fmt.Errorf("%w: refresh broadcast sender %d", ErrDecode, m.From)
	}
	w := newWriter(tagRefreshB, refreshBroadcastSize)
	w.put(m.SessionID[:])
	w.put(m.EpochID[:])
	w.put(m.KeyID[:])
	w.put(m.Prior[:])
	w.u8(m.From)
	for n := range m.Coeffs {
		w.put(m.Coeffs[n][:])
	}
	return w.bytes(), nil
}

// UnmarshalBinary decodes the message strictly.
func (m *RefreshBroadcast) UnmarshalBinary(b []byte) error {
	r := newReader(b, tagRefreshB, refreshBroadcastSize)
	r.fixed(m.SessionID[:])
	r.fixed(m.EpochID[:])
	r.fixed(m.KeyID[:])
	r.fixed(m.Prior[:])
	m.From = r.party("from")
	for n := range m.Coeffs {
		r.point(&m.Coeffs[n], "F")
	}
	return r.done()
}

// MarshalBinary encodes the message.
func (m *RefreshDirect) MarshalBinary() ([]byte, error) {
	if !validParty(m.From) || !validParty(m.To) || m.From == m.To {
		return nil, fmt.Errorf("%w: refresh share from %d to %d", ErrDecode, m.From, m.To)
	}
	w := newWriter(tagRefreshD, refreshDirectSize)
	w.put(m.SessionID[:])
	w.put(m.EpochID[:])
	w.put(m.KeyID[:])
	w.u8(m.From)
	w.u8(m.To)
	w.put(m.Bind[:])
	w.put(m.Share[:])
	return w.bytes(), nil
}

// UnmarshalBinary decodes the message strictly.
func (m *RefreshDirect) UnmarshalBinary(b []byte) error {
	r := newReader(b, tagRefreshD, refreshDirectSize)
	r.fixed(m.SessionID[:])
	r.fixed(m.EpochID[:])
	r.fixed(m.KeyID[:])
	m.From = r.party("from")
	m.To = r.party("to")
	r.fixed(m.Bind[:])
	r.scalar(&m.Share, "share")
	if err := r.done(); err != nil {
		return err
	}
	if m.From == m.To {
		return fmt.Errorf("%w: message to self", ErrDecode)
	}
	return nil
}

// MarshalBinary encodes the message.
func (m *RefreshConfirm) MarshalBinary() ([]byte, error) {
	if !validParty(m.From) {
		return nil, fmt.Errorf("%w: refresh digest sender %d", ErrDecode, m.From)
	}
	w := newWriter(tagRefreshC, refreshConfirmSize)
	w.put(m.SessionID[:])
	w.put(m.EpochID[:])
	w.put(m.KeyID[:])
	w.u8(m.From)
	w.put(m.Digest[:])
	return w.bytes(), nil
}

// UnmarshalBinary decodes the message strictly.
func (m *RefreshConfirm) UnmarshalBinary(b []byte) error {
	r := newReader(b, tagRefreshC, refreshConfirmSize)
	r.fixed(m.SessionID[:])
	r.fixed(m.EpochID[:])
	r.fixed(m.KeyID[:])
	m.From = r.party("from")
	r.fixed(m.Digest[:])
	return r.done()
}
