package mldsa

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/cc-tsa/cc-tsa/dkg/mldsa/internal/fips204"
)

// Sizes of the standard encodings.
const (
	PublicKeySize = fips204.PublicKeySize // 1952
	SignatureSize = fips204.SignatureSize // 3309
	MuSize        = fips204.MuSize        // 64
)

// ErrBudgetExhausted is returned by NewSession once a key share has used its
// signing-session budget. Rotate the key.
var ErrBudgetExhausted = errors.New("mldsa: signing-session budget of this key share is exhausted")

// PublicKey is a standard ML-DSA-65 public key.
type PublicKey struct {
	pk    *fips204.PublicKey
	t1Hat fips204.VecK // NTT(t1·2^d) in Montgomery form, for the combiner
}

func newPublicKey(pk *fips204.PublicKey) *PublicKey {
	p := &PublicKey{pk: pk}
	for i := range p.t1Hat {
		p.t1Hat[i].ShiftLeftD(&pk.T1[i])
		p.t1Hat[i].NTT()
		p.t1Hat[i].ToMont()
	}
	return p
}

// ParsePublicKey decodes a 1952-byte FIPS 204 public key.
func ParsePublicKey(b []byte) (*PublicKey, error) {
	pk, err := fips204.DecodePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("mldsa: parsing public key: %w", err)
	}
	return newPublicKey(pk), nil
}

// Bytes returns the 1952-byte FIPS 204 encoding.
func (pk *PublicKey) Bytes() []byte { return pk.pk.Bytes() }

// Equal reports whether two public keys are the same.
func (pk *PublicKey) Equal(o *PublicKey) bool {
	return o != nil && subtle.ConstantTimeCompare(pk.Bytes(), o.Bytes()) == 1
}

// Mu returns μ = H(tr ‖ 0 ‖ len(ctx) ‖ ctx ‖ msg, 64), the pure-mode message
// representative the signers sign (FIPS 204 Algorithm 2).
func (pk *PublicKey) Mu(msg, ctx []byte) ([MuSize]byte, error) {
	mu, err := fips204.ComputeMu(&pk.pk.Tr, msg, ctx)
	if err != nil {
		return mu, fmt.Errorf("mldsa: %w", err)
	}
	return mu, nil
}

// Verify checks a standard pure-mode ML-DSA-65 signature (FIPS 204 Alg. 3).
func (pk *PublicKey) Verify(msg, ctx, sig []byte) bool {
	return fips204.Verify(pk.pk, msg, ctx, sig)
}

// VerifyMu checks a signature against a precomputed μ.
func (pk *PublicKey) VerifyMu(mu *[MuSize]byte, sig []byte) bool {
	return fips204.VerifyMu(pk.pk, mu, sig)
}

// subsetSecret is one short secret s_I = (s1_I, s2_I) with coefficients in
// [−η, η], held by every member of the subset I.
type subsetSecret struct {
	mask uint8
	s1   [fips204.L][fips204.N]int8
	s2   [fips204.K][fips204.N]int8
}

type shareSecrets struct {
	subs []subsetSecret
}

func (s *shareSecrets) zeroize() {
	for i := range s.subs {
		s.subs[i] = subsetSecret{}
	}
	s.subs = nil
}

// KeyShare is party id's share of a threshold ML-DSA-65 key: the subset
// secrets s_I of every subset I that contains id. It also counts the signing
// sessions it has taken part in against a budget.
//
// A KeyShare must not be copied. Its secrets are zeroized by Zeroize, and on
// a best-effort basis when the share becomes unreachable. Formatting a share
// with the fmt package prints no secret.
type KeyShare struct {
	params Params
	id     int
	pk     *PublicKey
	sec    *shareSecrets

	mu     sync.Mutex
	used   uint64
	budget uint64
}

func newKeyShare(p Params, id int, pk *PublicKey, sec *shareSecrets) *KeyShare {
	ks := &KeyShare{params: p, id: id, pk: pk, sec: sec, budget: p.DefaultBudget()}
	runtime.AddCleanup(ks, func(s *shareSecrets) { s.zeroize() }, sec)
	return ks
}

// ID returns the party index of this share, in [0, N).
func (ks *KeyShare) ID() int { return ks.id }

// Params returns the threshold parameters of the key.
func (ks *KeyShare) Params() Params { return ks.params }

// PublicKey returns the group public key.
func (ks *KeyShare) PublicKey() *PublicKey { return ks.pk }

// Zeroize erases the secret material; the share is unusable afterwards.
func (ks *KeyShare) Zeroize() {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.sec.zeroize()
}

// Format implements fmt.Formatter so that no verb ever prints a secret.
func (ks *KeyShare) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "mldsa.KeyShare{party %d of %d-of-%d, secrets redacted}", ks.id, ks.params.T, ks.params.N)
}

// SetBudget sets the number of signing sessions this share accepts in total.
func (ks *KeyShare) SetBudget(n uint64) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.budget = n
}

// SessionsUsed returns how many signing sessions the share has started.
func (ks *KeyShare) SessionsUsed() uint64 {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.used
}

// RestoreSessionCount raises the session counter to n, e.g. from a monotonic
// counter kept outside the process. The counter never goes down.
func (ks *KeyShare) RestoreSessionCount(n uint64) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.used = max(ks.used, n)
}

// takeSession counts one signing session against the budget.
func (ks *KeyShare) takeSession() error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.sec.subs == nil {
		return errors.New("mldsa: key share has been zeroized")
	}
	if ks.used >= ks.budget {
		return fmt.Errorf("%w (%d of %d sessions used)", ErrBudgetExhausted, ks.used, ks.budget)
	}
	ks.used++
	return nil
}

// GenerateKey is the trusted dealer of the paper's Fig. 5, for tests and the
// single-machine development mode: it draws ρ and one short secret per subset
// of N−T+1 parties, and returns the public key and the N key shares. The
// dealer keeps nothing; the caller must hand every share to its party and
// drop (Zeroize) the others.
func GenerateKey(rand io.Reader, t, n int) (*PublicKey, []*KeyShare, error) {
	p, err := ParamsFor(t, n)
	if err != nil {
		return nil, nil, err
	}
	var rho [fips204.SeedSize]byte
	if _, err := io.ReadFull(rand, rho[:]); err != nil {
		return nil, nil, fmt.Errorf("mldsa: reading randomness: %w", err)
	}
	subs := subsets(t, n)
	all := make([]subsetSecret, len(subs))
	var seed [66]byte
	defer clear(seed[:])
	for i, m := range subs {
		if _, err := io.ReadFull(rand, seed[:64]); err != nil {
			return nil, nil, fmt.Errorf("mldsa: reading randomness: %w", err)
		}
		all[i].mask = m
		sampleSubsetSecret(&all[i], seed[:64])
	}
	pk := publicFromSubsets(&rho, all)
	shares := make([]*KeyShare, n)
	for id := 0; id < n; id++ {
		sec := &shareSecrets{}
		for _, s := range all {
			if s.mask&(1<<id) != 0 {
				sec.subs = append(sec.subs, s)
			}
		}
		shares[id] = newKeyShare(p, id, pk, sec)
	}
	for i := range all {
		all[i] = subsetSecret{}
	}
	return pk, shares, nil
}

// sampleSubsetSecret fills s1, s2 with coefficients uniform in [−η, η]
// derived from a 64-byte seed (FIPS 204 RejBoundedPoly, indices as ExpandS).
func sampleSubsetSecret(s *subsetSecret, seed64 []byte) {
	var in [66]byte
	defer clear(in[:])
	copy(in[:], seed64)
	for r := 0; r < fips204.L; r++ {
		in[64], in[65] = byte(r), 0
		fips204.RejBoundedPoly(&s.s1[r], in[:])
	}
	for r := 0; r < fips204.K; r++ {
		in[64], in[65] = byte(r+fips204.L), 0
		fips204.RejBoundedPoly(&s.s2[r], in[:])
	}
}

// publicFromSubsets computes pk = (ρ, t1) for s = Σ s_I.
func publicFromSubsets(rho *[fips204.SeedSize]byte, all []subsetSecret) *PublicKey {
	s1 := new([fips204.L][fips204.N]int32)
	s2 := new([fips204.K][fips204.N]int32)
	defer func() { *s1 = [fips204.L][fips204.N]int32{}; *s2 = [fips204.K][fips204.N]int32{} }()
	for _, s := range all {
		for i := range s.s1 {
			for j, c := range s.s1[i] {
				s1[i][j] += int32(c)
			}
		}
		for i := range s.s2 {
			for j, c := range s.s2[i] {
				s2[i][j] += int32(c)
			}
		}
	}
	pk, t0 := fips204.PublicFromSecret(rho, fips204.ExpandA(rho), s1, s2)
	*t0 = [fips204.K][fips204.N]int32{}
	return newPublicKey(pk)
}
