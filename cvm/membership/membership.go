// Package membership fixes who the members of an oracle cluster are and how
// that may change.
//
// Every oracle identity is bound, in its attestation evidence, to a Claim:
// the cluster it belongs (or applies) to, its node index, the membership
// epoch and the cluster's shape, besides its identity keys. The membership
// of epoch 0 is fixed by the key ceremony's attestation round, in which every
// member contributes a challenge to the nonce that all evidence is made for
// (see Nonce). From then on the membership changes only through a Change
// endorsed by at least Threshold members of the current epoch, each of which
// checked the change itself: the new identity is fresh (never a member of
// any epoch), attested now for a nonce that endorser contributed, under the
// same measurement and configuration, on a chip no other member runs on; the
// change is rate-limited; and the replaced index has gone silent. A Peers
// message can never change it.
package membership

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"golang.org/x/crypto/cryptobyte"
)

// Labels that separate the hashes and signatures of this package.
const (
	claimLabel       = "CC-TSA membership claim v1"
	membershipLabel  = "CC-TSA membership v1"
	nonceLabel       = "CC-TSA membership nonce v1"
	clusterLabel     = "CC-TSA cluster id v1"
	changeLabel      = "CC-TSA membership change v1"
	endorsementLabel = "CC-TSA membership endorsement v1"
)

// ErrInvalid is wrapped by every error about a claim, membership or change
// that does not hold.
var ErrInvalid = errors.New("membership: invalid")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Claim is what an oracle's attestation evidence binds besides the nonce.
// A member claims its cluster and current epoch; an oracle that is not a
// member yet claims the cluster and epoch it applies for (the zero cluster
// and epoch 0 at the key ceremony).
type Claim struct {
	Cluster          [32]byte
	Epoch            uint64
	Index            uint8
	Nodes, Threshold uint8
	Keys             []byte // peer.PublicKeys.Marshal()
}

// ClaimOf returns the claim a Hello makes.
func ClaimOf(h *wire.Hello) *Claim {
	return &Claim{Cluster: h.Cluster, Epoch: h.Epoch, Index: h.NodeID, Nodes: h.Nodes, Threshold: h.Threshold, Keys: h.Identity}
}

// Marshal returns the encoding that attestation evidence binds: a label,
// then every field with a fixed size or a u16 length.
func (c *Claim) Marshal() []byte {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(claimLabel)) })
	b.AddBytes(c.Cluster[:])
	b.AddUint64(c.Epoch)
	b.AddUint8(c.Index)
	b.AddUint8(c.Nodes)
	b.AddUint8(c.Threshold)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(c.Keys) })
	return b.BytesOrPanic()
}

// Nonce combines the challenges that the verifiers of one attestation round
// contributed, each with the node index of its contributor, into the nonce
// that every piece of evidence of that round is made for. A verifier whose
// own challenge is among them knows the evidence is fresh.
func Nonce(challenges []wire.Challenge) [wire.NonceSize]byte {
	h := sha256.New()
	writeLabel(h, nonceLabel)
	for _, c := range challenges {
		h.Write([]byte{c.Node})
		h.Write(c.Value[:])
	}
	return [wire.NonceSize]byte(h.Sum(nil))
}

// Member is one member of a membership.
type Member struct {
	Keys peer.PublicKeys
	// Chip is the member's CHIP_ID as its evidence reports it; empty when
	// the platform masks it.
	Chip []byte
}

// Membership is the set of members of one epoch. Members[i] holds node
// index i+1.
type Membership struct {
	Cluster          [32]byte
	Epoch            uint64
	Nodes, Threshold uint8
	Members          []Member
}

// Digest identifies the membership: a hash of the cluster, the epoch, the
// shape and every member's index and identity keys (not the chips, which
// only the members' evidence reports). Messages that must not
// cross from one membership to another bind it.
func (m *Membership) Digest() [32]byte {
	h := sha256.New()
	writeLabel(h, membershipLabel)
	h.Write(m.Cluster[:])
	var b cryptobyte.Builder
	b.AddUint64(m.Epoch)
	b.AddUint8(m.Nodes)
	b.AddUint8(m.Threshold)
	for i, mem := range m.Members {
		b.AddUint8(uint8(i + 1))
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(mem.Keys.Marshal()) })
	}
	h.Write(b.BytesOrPanic())
	return [32]byte(h.Sum(nil))
}

// Keys returns the identity keys of node index i (1-based).
func (m *Membership) Keys(i uint8) (peer.PublicKeys, bool) {
	if i == 0 || int(i) > len(m.Members) {
		return peer.PublicKeys{}, false
	}
	return m.Members[i-1].Keys, true
}

// Clone returns a deep copy.
func (m *Membership) Clone() *Membership {
	c := *m
	c.Members = slices.Clone(m.Members)
	return &c
}

// CheckDistinct checks that no two members share identity keys, and no two
// share a reported chip (members whose platform masks CHIP_ID are not
// compared).
func (m *Membership) CheckDistinct() error {
	for i := range m.Members {
		for j := i + 1; j < len(m.Members); j++ {
			a, b := &m.Members[i], &m.Members[j]
			if bytes.Equal(a.Keys.Sign, b.Keys.Sign) || bytes.Equal(a.Keys.KEM, b.Keys.KEM) {
				return invalid("nodes %d and %d have the same identity", i+1, j+1)
			}
			if len(a.Chip) > 0 && !isZero(a.Chip) && bytes.Equal(a.Chip, b.Chip) {
				return invalid("nodes %d and %d run on the same chip", i+1, j+1)
			}
		}
	}
	return nil
}

// Genesis returns the membership of epoch 0 from the members fixed by the
// ceremony's attestation round for nonce. The cluster id is derived from
// both, so no two ceremonies share one.
func Genesis(nodes, threshold uint8, members []Member, nonce [wire.NonceSize]byte) (*Membership, error) {
	if len(members) != int(nodes) {
		return nil, invalid("%d members for %d nodes", len(members), nodes)
	}
	m := &Membership{Nodes: nodes, Threshold: threshold, Members: slices.Clone(members)}
	if err := m.CheckDistinct(); err != nil {
		return nil, err
	}
	d := m.Digest()
	h := sha256.New()
	writeLabel(h, clusterLabel)
	h.Write(nonce[:])
	h.Write(d[:])
	m.Cluster = [32]byte(h.Sum(nil))
	return m, nil
}

// Change replaces the member at Index with a new identity, moving the
// cluster from Epoch to Epoch+1.
type Change struct {
	Cluster [32]byte
	Epoch   uint64 // the epoch the change leaves
	Index   uint8
	// Claim is the new member's claim (for Cluster, Epoch+1, Index) and
	// Evidence its attestation evidence for the round's nonce.
	Claim    []byte
	Evidence []byte
	// Nonce is the attestation round's nonce.
	Nonce [wire.NonceSize]byte
	// Chip is the new member's chip as its evidence reports it.
	Chip []byte
}

// Apply returns the membership after the change, which must start from m.
func (c *Change) Apply(m *Membership, keys peer.PublicKeys) (*Membership, error) {
	if c.Cluster != m.Cluster || c.Epoch != m.Epoch {
		return nil, invalid("change of epoch %d of another cluster, this is epoch %d", c.Epoch, m.Epoch)
	}
	if c.Index == 0 || int(c.Index) > len(m.Members) {
		return nil, invalid("change of node %d", c.Index)
	}
	n := m.Clone()
	n.Epoch++
	n.Members[c.Index-1] = Member{Keys: keys, Chip: bytes.Clone(c.Chip)}
	if err := n.CheckDistinct(); err != nil {
		return nil, err
	}
	return n, nil
}

// Digest is what endorsements sign: the change and the membership it
// produces.
func (c *Change) Digest(next *Membership) [32]byte {
	h := sha256.New()
	writeLabel(h, changeLabel)
	var b cryptobyte.Builder
	b.AddBytes(c.Cluster[:])
	b.AddUint64(c.Epoch)
	b.AddUint8(c.Index)
	b.AddUint32LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(c.Claim) })
	ev := sha256.Sum256(c.Evidence)
	b.AddBytes(ev[:])
	b.AddBytes(c.Nonce[:])
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(c.Chip) })
	nd := next.Digest()
	b.AddBytes(nd[:])
	h.Write(b.BytesOrPanic())
	return [32]byte(h.Sum(nil))
}

// endorsementDigest is what an endorser signs: the change digest, the
// endorser's index and the ML-DSA signing sessions its share has used, so
// that the session count travels with the change.
func endorsementDigest(change [32]byte, signer uint8, used uint64) []byte {
	h := sha256.New()
	writeLabel(h, endorsementLabel)
	h.Write(change[:])
	var b cryptobyte.Builder
	b.AddUint8(signer)
	b.AddUint64(used)
	h.Write(b.BytesOrPanic())
	return h.Sum(nil)
}

// Endorse signs an endorsement of the change with digest change.
func Endorse(id *peer.Identity, signer uint8, used uint64, change [32]byte) (wire.Endorsement, error) {
	sig, err := id.SignTranscript(endorsementDigest(change, signer, used))
	if err != nil {
		return wire.Endorsement{}, err
	}
	return wire.Endorsement{Signer: signer, Used: used, Signature: sig}, nil
}

// CheckEndorsements checks that at least m.Threshold distinct members of m,
// other than the replaced index, endorsed the change with digest change,
// and returns the highest session count they report.
func CheckEndorsements(m *Membership, replaced uint8, change [32]byte, es []wire.Endorsement) (uint64, error) {
	seen := map[uint8]bool{}
	var used uint64
	for _, e := range es {
		if e.Signer == replaced || seen[e.Signer] {
			return 0, invalid("endorsement by node %d", e.Signer)
		}
		k, ok := m.Keys(e.Signer)
		if !ok || !k.VerifyTranscript(endorsementDigest(change, e.Signer, e.Used), e.Signature) {
			return 0, invalid("endorsement by node %d does not verify", e.Signer)
		}
		seen[e.Signer] = true
		used = max(used, e.Used)
	}
	if len(seen) < int(m.Threshold) {
		return 0, invalid("%d endorsements, %d needed", len(seen), m.Threshold)
	}
	return used, nil
}

type writer interface{ Write([]byte) (int, error) }

func writeLabel(w writer, label string) {
	w.Write([]byte{0, byte(len(label))})
	w.Write([]byte(label))
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// ParseClaim decodes what Claim.Marshal encodes.
func ParseClaim(data []byte) (*Claim, error) {
	in := cryptobyte.String(data)
	var label, cluster, keys cryptobyte.String
	c := &Claim{}
	if !in.ReadUint16LengthPrefixed(&label) || string(label) != claimLabel || !in.ReadBytes((*[]byte)(&cluster), 32) ||
		!in.ReadUint64(&c.Epoch) || !in.ReadUint8(&c.Index) || !in.ReadUint8(&c.Nodes) || !in.ReadUint8(&c.Threshold) ||
		!in.ReadUint16LengthPrefixed(&keys) || !in.Empty() {
		return nil, invalid("malformed claim")
	}
	copy(c.Cluster[:], cluster)
	c.Keys = bytes.Clone(keys)
	return c, nil
}
