package ecdsa

import (
	stdecdsa "crypto/ecdsa"
	"crypto/elliptic"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/ote"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/rvole"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/transcript"
)

// Parties is the number of parties (indices 1..Parties), Threshold the number
// of signers needed (the sharing polynomial has degree Threshold-1).
const (
	Parties   = 5
	Threshold = 3
)

// KeyShare is one party's long-term threshold key material: its Shamir
// share x_i, the public key and public shares X_k, the pairwise OT-extension
// setups and zero-share seeds. It lives in memory only; Zeroize wipes it.
// A KeyShare is safe for concurrent use by signing sessions.
type KeyShare struct {
	self     int
	keyID    [32]byte
	x        *p384.Scalar
	pk       *p384.Point
	shares   [Parties + 1]*p384.Point
	mu       sync.RWMutex // guards pairs
	pairs    [Parties + 1]*pairMaterial
	confirm  atomic.Bool
	zeroized atomic.Bool
}

// pairMaterial is everything a party holds about its pairwise setup with
// one peer j.
type pairMaterial struct {
	send  *ote.SenderSetup   // pair self → j (self is the RVOLE sender)
	recv  *ote.ReceiverSetup // pair j → self
	zero  [32]byte           // zero-share seed shared with j
	id    [32]byte           // public id of the setup that made it (see PairID)
	gSend *rvole.Gadget
	gRecv *rvole.Gadget
	// users counts the presigning sessions using the material and retired
	// marks material that a new setup replaced; both are guarded by the
	// KeyShare's mu. Retired material is zeroized when its last user ends,
	// so a session never computes with material wiped under it.
	users   int
	retired bool
}

func (m *pairMaterial) zeroize() {
	m.send.Zeroize()
	m.recv.Zeroize()
	clear(m.zero[:])
}

// pair returns the pairwise material for peer j, or nil if there is none.
func (k *KeyShare) pair(j int) *pairMaterial {
	if j < 1 || j > Parties {
		return nil
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.pairs[j]
}

// acquirePair returns the pairwise material for peer j and counts one more
// user of it, or nil if there is none.
func (k *KeyShare) acquirePair(j int) *pairMaterial {
	if j < 1 || j > Parties {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	m := k.pairs[j]
	if m != nil {
		m.users++
	}
	return m
}

// releasePair ends one use of m, zeroizing it if it was replaced meanwhile
// and this was its last user.
func (k *KeyShare) releasePair(m *pairMaterial) {
	k.mu.Lock()
	defer k.mu.Unlock()
	m.users--
	if m.retired && m.users == 0 {
		m.zeroize()
	}
}

// HasPair reports whether the share holds a pairwise OT setup with peer j.
func (k *KeyShare) HasPair(j int) bool { return k.pair(j) != nil }

// PairID returns the public identifier of the pairwise setup this share
// holds with peer j, and false if it holds none. Both parties of a setup
// derive the same id (from the key id, the setup's session id and the two
// indices), so two parties whose ids differ hold material from different
// setups: presigning messages carry the id and such a mismatch aborts
// without blame (see PresignRound1.Binding). It reveals nothing secret.
func (k *KeyShare) PairID(j int) ([32]byte, bool) {
	m := k.pair(j)
	if m == nil {
		return [32]byte{}, false
	}
	return m.id, true
}

// pairID derives the public id of the pairwise setup between a and b made
// by the session origin (the DKG's or the pair setup's session id).
func pairID(keyID, origin [32]byte, a, b int) [32]byte {
	lo, hi := min(a, b), max(a, b)
	return transcript.New("pair/id").Bytes(keyID[:]).Bytes(origin[:]).Uint32(uint32(lo)).Uint32(uint32(hi)).Sum32()
}

// Self returns the party index of the share.
func (k *KeyShare) Self() int { return k.self }

// KeyID returns the key identifier bound into every signing transcript.
func (k *KeyShare) KeyID() [32]byte { return k.keyID }

// PublicKeyBytes returns the 97-byte uncompressed public key.
func (k *KeyShare) PublicKeyBytes() []byte { return k.pk.Bytes() }

// PublicShare returns X_j = x_j·G (97 bytes) for party j.
func (k *KeyShare) PublicShare(j int) []byte {
	if j < 1 || j > Parties {
		return nil
	}
	return k.shares[j].Bytes()
}

// PublicKey returns the group public key as a crypto/ecdsa key.
func (k *KeyShare) PublicKey() *stdecdsa.PublicKey {
	pub, err := stdecdsa.ParseUncompressedPublicKey(elliptic.P384(), k.pk.Bytes())
	if err != nil {
		panic("tecdsa: group public key does not parse: " + err.Error())
	}
	return pub
}

// Confirmed reports whether all ten confirmation signatures were checked.
func (k *KeyShare) Confirmed() bool { return k.confirm.Load() }

// Zeroize wipes the secret material. The share is unusable afterwards.
func (k *KeyShare) Zeroize() {
	k.zeroized.Store(true)
	k.x.Zeroize()
	k.mu.Lock()
	defer k.mu.Unlock()
	for j, m := range k.pairs {
		if m != nil {
			m.zeroize()
			k.pairs[j] = nil
		}
	}
}

// setPair installs pairwise material for peer j, made by the session
// origin, zeroizing what it replaces.
func (k *KeyShare) setPair(j int, send *ote.SenderSetup, recv *ote.ReceiverSetup, zero, origin [32]byte) {
	m := &pairMaterial{send: send, recv: recv, zero: zero, id: pairID(k.keyID, origin, k.self, j),
		gSend: rvole.NewGadget(k.keyID, uint32(k.self), uint32(j)),
		gRecv: rvole.NewGadget(k.keyID, uint32(j), uint32(k.self))}
	k.mu.Lock()
	defer k.mu.Unlock()
	if old := k.pairs[j]; old != nil {
		old.retired = true
		if old.users == 0 {
			old.zeroize()
		}
	}
	k.pairs[j] = m
}

func deriveKeyID(sid [32]byte, pk *p384.Point, X *[Parties + 1]*p384.Point) [32]byte {
	t := transcript.New("key-id").Bytes(sid[:]).Point(pk)
	for j := 1; j <= Parties; j++ {
		t.Point(X[j])
	}
	return t.Sum32()
}

// lagrange returns λ_i for the set S at zero: Π_{j∈S, j≠i} j/(j−i).
func lagrange(set []int, i int) *p384.Scalar {
	num := p384.ScalarFromUint64(1)
	den := p384.ScalarFromUint64(1)
	for _, j := range set {
		if j == i {
			continue
		}
		num.Mul(num, p384.ScalarFromUint64(uint64(j)))
		den.Mul(den, p384.NewScalar().Sub(p384.ScalarFromUint64(uint64(j)), p384.ScalarFromUint64(uint64(i))))
	}
	return num.Mul(num, p384.NewScalar().Inverse(den))
}

// validSet checks a signer set: Threshold distinct, sorted indices in range.
func validSet(set []int) error {
	if len(set) != Threshold {
		return fmt.Errorf("%w: signer set must have %d members", ErrConfig, Threshold)
	}
	for i, j := range set {
		if j < 1 || j > Parties || (i > 0 && set[i-1] >= j) {
			return fmt.Errorf("%w: signer set must be sorted distinct indices in 1..%d", ErrConfig, Parties)
		}
	}
	return nil
}

// Subsets returns all Threshold-subsets of {1..Parties} in lexicographic order.
func Subsets() [][]int {
	var out [][]int
	for a := 1; a <= Parties; a++ {
		for b := a + 1; b <= Parties; b++ {
			for c := b + 1; c <= Parties; c++ {
				out = append(out, []int{a, b, c})
			}
		}
	}
	return out
}

// String describes the share without revealing secret material.
func (k *KeyShare) String() string {
	return fmt.Sprintf("tecdsa.KeyShare{party %d, key id %x, confirmed %v}", k.self, k.keyID[:8], k.Confirmed())
}

// GoString is String, so that %#v does not print secret material either.
func (k *KeyShare) GoString() string { return k.String() }
