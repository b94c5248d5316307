package mldsa

import (
	"bytes"
	"crypto/rand"
	"crypto/sha3"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cc-tsa/cc-tsa/dkg/mldsa/internal/fips204"
)

// Distributed key generation (paper App. D, Fig. 13), as a message-driven
// state machine. Every party runs a DKG value; the caller moves the messages
// between parties over authenticated channels (and the DKGSeed messages over
// authenticated and confidential ones):
//
//	d, c, seeds, _ := NewDKG(cfg, rand)   // c: broadcast; seeds: one per (subset led, other member)
//	r, _ := d.Round2(allCommits, seedsToMe)   // reveal r_i
//	tc, _ := d.Round3(allReveals)             // ρ = H(R); leaders commit to t_S = A·s_S
//	tr, _ := d.Round4(allTCommits)            // leaders reveal t_S
//	cf, _ := d.Round5(allTReveals)            // members check t_S; sign the transcript
//	share, pk, transcript, _ := d.Finish(allConfirms)
//
// The leader of a subset S (its smallest member) draws a 32-byte seed K_S and
// sends it to the other members of S. Every party commits to a random r_i and
// then reveals it; ρ = H(R) with R = r_0 ‖ … ‖ r_{N−1}, and
// s_S = H_keygen(S, K_S, R) sampled with coefficients in [−η, η]. Leaders
// commit to t_S = A·s1_S + s2_S, then reveal it; every member recomputes and
// checks it. Finally every party signs a hash of the public transcript with
// its long-term key; each party checks all N signatures, sums the t_S and
// applies Power2Round. Any failed check aborts with the culprit named.

// Domain-separation labels of the DKG hashes.
const (
	dkgDomainCommitR = "CC-TSA threshold ML-DSA-65 v1 DKG commit r"
	dkgDomainRho     = "CC-TSA threshold ML-DSA-65 v1 DKG rho"
	dkgDomainSecret  = "CC-TSA threshold ML-DSA-65 v1 DKG subset secret"
	dkgDomainCommitT = "CC-TSA threshold ML-DSA-65 v1 DKG commit t_S"
	dkgDomainTransc  = "CC-TSA threshold ML-DSA-65 v1 DKG transcript"
)

// TranscriptSigner signs the DKG transcript hash with a party's long-term
// identity key.
type TranscriptSigner interface {
	SignTranscript(digest []byte) ([]byte, error)
}

// TranscriptVerifier checks party's signature over the transcript hash.
type TranscriptVerifier func(party int, digest, sig []byte) bool

// DKGConfig configures one party of a key-generation ceremony.
type DKGConfig struct {
	T, N      int
	ID        int      // this party, in [0, N)
	SessionID [32]byte // unique per ceremony, agreed beforehand
	Signer    TranscriptSigner
	Verify    TranscriptVerifier
}

// DKG is one party's state in a key-generation ceremony. It holds secrets in
// memory only and erases them when the ceremony ends or aborts.
type DKG struct {
	_     noCopy
	cfg   DKGConfig
	p     Params
	subs  []uint8 // all subsets
	phase int

	r       [32]byte
	seeds   map[uint8]*[32]byte // K_S for every subset that contains this party
	commitR [][64]byte          // by party
	bigR    []byte              // r_0 ‖ … ‖ r_{N−1}
	rho     [32]byte
	a       *fips204.Matrix
	tCommit map[uint8][64]byte
	t       map[uint8]*fips204.VecK
	trHash  [64]byte
	pk      *PublicKey
}

const (
	dkgPhase2 = iota + 1
	dkgPhase3
	dkgPhase4
	dkgPhase5
	dkgPhaseFinish
	dkgPhaseDone
	dkgPhaseAborted
)

func leaderOf(mask uint8) int {
	for i := 0; i < 8; i++ {
		if mask&(1<<i) != 0 {
			return i
		}
	}
	return -1
}

func dkgHash(out []byte, domain string, parts ...[]byte) {
	h := sha3.NewSHAKE256()
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(domain)))
	h.Write(l[:])
	h.Write([]byte(domain))
	for _, p := range parts {
		binary.BigEndian.PutUint32(l[:], uint32(len(p)))
		h.Write(l[:])
		h.Write(p)
	}
	h.Read(out)
}

// NewDKG starts party cfg.ID's part of a ceremony. It returns the broadcast
// commitment to r_i and the subset seeds this party sends, one per (subset it
// leads, other member); each DKGSeed must travel over a confidential channel
// to its To party. rand nil means crypto/rand.
func NewDKG(cfg DKGConfig, rnd io.Reader) (*DKG, *DKGCommit, []*DKGSeed, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	p, err := ParamsFor(cfg.T, cfg.N)
	if err != nil {
		return nil, nil, nil, err
	}
	if cfg.ID < 0 || cfg.ID >= cfg.N {
		return nil, nil, nil, fmt.Errorf("mldsa: DKG party id %d out of range", cfg.ID)
	}
	if cfg.Signer == nil || cfg.Verify == nil {
		return nil, nil, nil, errors.New("mldsa: DKG needs a transcript signer and verifier")
	}
	d := &DKG{cfg: cfg, p: p, subs: subsets(cfg.T, cfg.N), seeds: map[uint8]*[32]byte{}}
	if _, err := io.ReadFull(rnd, d.r[:]); err != nil {
		return nil, nil, nil, fmt.Errorf("mldsa: reading randomness: %w", err)
	}
	var out []*DKGSeed
	for _, m := range d.subs {
		if leaderOf(m) != cfg.ID {
			continue
		}
		k := new([32]byte)
		if _, err := io.ReadFull(rnd, k[:]); err != nil {
			d.wipe()
			return nil, nil, nil, fmt.Errorf("mldsa: reading randomness: %w", err)
		}
		d.seeds[m] = k
		for j := 0; j < cfg.N; j++ {
			if j != cfg.ID && m&(1<<j) != 0 {
				out = append(out, &DKGSeed{Sender: cfg.ID, To: j, Mask: m, Seed: *k})
			}
		}
	}
	c := &DKGCommit{Sender: cfg.ID}
	dkgHash(c.Hash[:], dkgDomainCommitR, cfg.SessionID[:], []byte{byte(cfg.ID)}, d.r[:])
	d.phase = dkgPhase2
	return d, c, out, nil
}

func (d *DKG) wipe() {
	for _, k := range d.seeds {
		clear(k[:])
	}
	d.seeds = nil
	clear(d.r[:])
}

// Abort ends the ceremony for this party and erases its secrets.
func (d *DKG) Abort() {
	d.wipe()
	d.phase = dkgPhaseAborted
}

// Format implements fmt.Formatter so that no verb ever prints a secret.
func (d *DKG) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "mldsa.DKG{party %d of %d-of-%d, phase %d, secrets redacted}", d.cfg.ID, d.p.T, d.p.N, d.phase)
}

func (d *DKG) fail(err error) error {
	d.wipe()
	d.phase = dkgPhaseAborted
	return err
}

// byParty checks that senders has one entry per party 0..N−1 and returns the
// message index of each party.
func (d *DKG) byParty(senders []int) ([]int, error) {
	all := make([]int, d.cfg.N)
	for i := range all {
		all[i] = i
	}
	return order(all, senders)
}

// Round2 takes every party's commitment to r and the subset seeds addressed
// to this party, and returns this party's reveal of r_i.
func (d *DKG) Round2(commits []*DKGCommit, seeds []*DKGSeed) (*DKGReveal, error) {
	if d.phase != dkgPhase2 {
		return nil, ErrWrongPhase
	}
	senders := make([]int, len(commits))
	for i, c := range commits {
		if c == nil {
			return nil, d.fail(abort(CulpritNone, "nil commitment"))
		}
		senders[i] = c.Sender
	}
	idx, err := d.byParty(senders)
	if err != nil {
		return nil, d.fail(err)
	}
	d.commitR = make([][64]byte, d.cfg.N)
	for i, k := range idx {
		d.commitR[i] = commits[k].Hash
	}
	for _, s := range seeds {
		if s == nil {
			return nil, d.fail(abort(CulpritNone, "nil seed"))
		}
		if s.To != d.cfg.ID {
			return nil, d.fail(abort(s.Sender, "seed addressed to party %d", s.To))
		}
		if s.Mask&(1<<d.cfg.ID) == 0 || leaderOf(s.Mask) != s.Sender || !d.isSubset(s.Mask) {
			return nil, d.fail(abort(s.Sender, "seed for subset %06b not led by the sender or not ours", s.Mask))
		}
		if _, dup := d.seeds[s.Mask]; dup {
			return nil, d.fail(abort(s.Sender, "second seed for subset %06b", s.Mask))
		}
		k := s.Seed
		d.seeds[s.Mask] = &k
	}
	for _, m := range d.subs {
		if m&(1<<d.cfg.ID) != 0 && d.seeds[m] == nil {
			return nil, d.fail(abort(leaderOf(m), "no seed for subset %06b", m))
		}
	}
	d.phase = dkgPhase3
	return &DKGReveal{Sender: d.cfg.ID, R: d.r}, nil
}

func (d *DKG) isSubset(m uint8) bool {
	for _, s := range d.subs {
		if s == m {
			return true
		}
	}
	return false
}

// subsetSecret derives s_S = H_keygen(S, K_S, R).
func (d *DKG) subsetSecret(m uint8) *subsetSecret {
	var seed [64]byte
	dkgHash(seed[:], dkgDomainSecret, d.cfg.SessionID[:], []byte{m}, d.seeds[m][:], d.bigR)
	s := &subsetSecret{mask: m}
	sampleSubsetSecret(s, seed[:])
	clear(seed[:])
	return s
}

// tOf computes t_S = A·s1_S + s2_S mod q.
func (d *DKG) tOf(s *subsetSecret) *fips204.VecK {
	var s1Hat fips204.VecL
	for i := range s1Hat {
		for j, c := range s.s1[i] {
			s1Hat[i][j] = fips204.ModQ(int32(c))
		}
		s1Hat[i].NTT()
	}
	t := new(fips204.VecK)
	fips204.MatVecMul(t, d.a, &s1Hat)
	for i := range t {
		for j, c := range s.s2[i] {
			t[i][j] = fips204.ModQ(int32(t[i][j]) + int32(c))
		}
	}
	clear(s1Hat[:])
	return t
}

func packT(t *fips204.VecK) []byte {
	b := make([]byte, revealSlotSize)
	for i := range t {
		fips204.PackW23(b[i*fips204.PolyW23Size:], &t[i])
	}
	return b
}

func (d *DKG) commitT(m uint8, packed []byte) [64]byte {
	var h [64]byte
	dkgHash(h[:], dkgDomainCommitT, d.cfg.SessionID[:], []byte{m}, packed)
	return h
}

// Round3 takes every party's reveal of r, checks it against its commitment,
// derives ρ and returns this party's commitments to the t_S of the subsets it
// leads (an empty list for a party that leads none).
func (d *DKG) Round3(reveals []*DKGReveal) (*DKGTCommit, error) {
	if d.phase != dkgPhase3 {
		return nil, ErrWrongPhase
	}
	senders := make([]int, len(reveals))
	for i, r := range reveals {
		if r == nil {
			return nil, d.fail(abort(CulpritNone, "nil reveal"))
		}
		senders[i] = r.Sender
	}
	idx, err := d.byParty(senders)
	if err != nil {
		return nil, d.fail(err)
	}
	d.bigR = make([]byte, 0, 32*d.cfg.N)
	for i, k := range idx {
		r := reveals[k]
		var h [64]byte
		dkgHash(h[:], dkgDomainCommitR, d.cfg.SessionID[:], []byte{byte(i)}, r.R[:])
		if subtle.ConstantTimeCompare(h[:], d.commitR[i][:]) != 1 {
			return nil, d.fail(abort(i, "revealed r does not match its commitment"))
		}
		d.bigR = append(d.bigR, r.R[:]...)
	}
	dkgHash(d.rho[:], dkgDomainRho, d.cfg.SessionID[:], d.bigR)
	d.a = fips204.ExpandA(&d.rho)
	d.t = map[uint8]*fips204.VecK{}
	out := &DKGTCommit{Sender: d.cfg.ID}
	for _, m := range d.subs {
		if leaderOf(m) != d.cfg.ID {
			continue
		}
		s := d.subsetSecret(m)
		t := d.tOf(s)
		*s = subsetSecret{}
		d.t[m] = t
		out.Entries = append(out.Entries, DKGTCommitEntry{Mask: m, Hash: d.commitT(m, packT(t))})
	}
	d.phase = dkgPhase4
	return out, nil
}

// Round4 takes every party's t_S commitments, checks that each subset has
// exactly one, from its leader, and returns this party's reveal of its t_S.
func (d *DKG) Round4(tcs []*DKGTCommit) (*DKGTReveal, error) {
	if d.phase != dkgPhase4 {
		return nil, ErrWrongPhase
	}
	senders := make([]int, len(tcs))
	for i, c := range tcs {
		if c == nil {
			return nil, d.fail(abort(CulpritNone, "nil t commitment"))
		}
		senders[i] = c.Sender
	}
	if _, err := d.byParty(senders); err != nil {
		return nil, d.fail(err)
	}
	d.tCommit = map[uint8][64]byte{}
	for _, c := range tcs {
		for _, e := range c.Entries {
			if !d.isSubset(e.Mask) || leaderOf(e.Mask) != c.Sender {
				return nil, d.fail(abort(c.Sender, "t commitment for subset %06b it does not lead", e.Mask))
			}
			if _, dup := d.tCommit[e.Mask]; dup {
				return nil, d.fail(abort(c.Sender, "two t commitments for subset %06b", e.Mask))
			}
			d.tCommit[e.Mask] = e.Hash
		}
	}
	for _, m := range d.subs {
		if _, ok := d.tCommit[m]; !ok {
			return nil, d.fail(abort(leaderOf(m), "no t commitment for subset %06b", m))
		}
	}
	out := &DKGTReveal{Sender: d.cfg.ID}
	for _, m := range d.subs {
		if leaderOf(m) == d.cfg.ID {
			out.Entries = append(out.Entries, DKGTRevealEntry{Mask: m, T: packT(d.t[m])})
		}
	}
	d.phase = dkgPhase5
	return out, nil
}

// Round5 takes every party's t_S reveals, checks each against its commitment
// and, for the subsets this party belongs to, against its own recomputation;
// it then builds the public key and returns this party's signature over the
// transcript hash.
func (d *DKG) Round5(trs []*DKGTReveal) (*DKGConfirm, error) {
	if d.phase != dkgPhase5 {
		return nil, ErrWrongPhase
	}
	senders := make([]int, len(trs))
	for i, r := range trs {
		if r == nil {
			return nil, d.fail(abort(CulpritNone, "nil t reveal"))
		}
		senders[i] = r.Sender
	}
	if _, err := d.byParty(senders); err != nil {
		return nil, d.fail(err)
	}
	packed := map[uint8][]byte{}
	for _, r := range trs {
		for _, e := range r.Entries {
			if !d.isSubset(e.Mask) || leaderOf(e.Mask) != r.Sender {
				return nil, d.fail(abort(r.Sender, "t reveal for subset %06b it does not lead", e.Mask))
			}
			if _, dup := packed[e.Mask]; dup {
				return nil, d.fail(abort(r.Sender, "two t reveals for subset %06b", e.Mask))
			}
			if len(e.T) != revealSlotSize || (&Reveal{}).checkW(e.T) != nil {
				return nil, d.fail(abort(r.Sender, "t reveal for subset %06b has a bad length or range", e.Mask))
			}
			h := d.commitT(e.Mask, e.T)
			want := d.tCommit[e.Mask]
			if subtle.ConstantTimeCompare(h[:], want[:]) != 1 {
				return nil, d.fail(abort(r.Sender, "t reveal for subset %06b does not match its commitment", e.Mask))
			}
			packed[e.Mask] = e.T
		}
	}
	var sum fips204.VecK
	for _, m := range d.subs {
		b, ok := packed[m]
		if !ok {
			return nil, d.fail(abort(leaderOf(m), "no t reveal for subset %06b", m))
		}
		if m&(1<<d.cfg.ID) != 0 && leaderOf(m) != d.cfg.ID {
			s := d.subsetSecret(m)
			t := d.tOf(s)
			*s = subsetSecret{}
			if !bytes.Equal(packT(t), b) {
				return nil, d.fail(abort(leaderOf(m), "t for subset %06b differs from the one its seed yields", m))
			}
		}
		var t fips204.Poly
		for i := range sum {
			_ = fips204.UnpackW23(&t, b[i*fips204.PolyW23Size:(i+1)*fips204.PolyW23Size])
			sum[i].Add(&sum[i], &t)
		}
	}
	var t1 fips204.VecK
	for i := range sum {
		for j, c := range sum[i] {
			t1[i][j], _ = fips204.Power2Round(c)
		}
	}
	d.pk = newPublicKey(fips204.EncodePublicKey(&d.rho, &t1))
	// Transcript: session, shape, all commitments and reveals of r, all t_S
	// commitments (in subset order) and the public key.
	parts := [][]byte{d.cfg.SessionID[:], {byte(d.p.T), byte(d.p.N)}}
	for _, c := range d.commitR {
		parts = append(parts, c[:])
	}
	parts = append(parts, d.bigR)
	for _, m := range d.subs {
		h := d.tCommit[m]
		parts = append(parts, []byte{m}, h[:])
	}
	parts = append(parts, d.pk.Bytes())
	dkgHash(d.trHash[:], dkgDomainTransc, parts...)
	sig, err := d.cfg.Signer.SignTranscript(d.trHash[:])
	if err != nil {
		return nil, d.fail(fmt.Errorf("mldsa: signing the DKG transcript: %w", err))
	}
	if len(sig) == 0 || len(sig) > maxConfirmSig {
		return nil, d.fail(fmt.Errorf("mldsa: transcript signature of %d bytes", len(sig)))
	}
	d.phase = dkgPhaseFinish
	return &DKGConfirm{Sender: d.cfg.ID, Sig: sig}, nil
}

// Finish checks every party's transcript signature and returns this party's
// key share, the public key and the transcript hash (to be recorded, e.g. in
// the TSA certificate).
func (d *DKG) Finish(cfs []*DKGConfirm) (*KeyShare, *PublicKey, [64]byte, error) {
	if d.phase != dkgPhaseFinish {
		return nil, nil, [64]byte{}, ErrWrongPhase
	}
	senders := make([]int, len(cfs))
	for i, c := range cfs {
		if c == nil {
			return nil, nil, [64]byte{}, d.fail(abort(CulpritNone, "nil confirmation"))
		}
		senders[i] = c.Sender
	}
	if _, err := d.byParty(senders); err != nil {
		return nil, nil, [64]byte{}, d.fail(err)
	}
	for _, c := range cfs {
		if !d.cfg.Verify(c.Sender, d.trHash[:], c.Sig) {
			return nil, nil, [64]byte{}, d.fail(abort(c.Sender, "bad transcript signature"))
		}
	}
	sec := &shareSecrets{}
	for _, m := range d.subs {
		if m&(1<<d.cfg.ID) != 0 {
			sec.subs = append(sec.subs, *d.subsetSecret(m))
		}
	}
	share := newKeyShare(d.p, d.cfg.ID, d.pk, sec)
	d.wipe()
	d.phase = dkgPhaseDone
	return share, d.pk, d.trHash, nil
}
