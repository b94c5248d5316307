package mldsa

import (
	"github.com/cc-tsa/cc-tsa/dkg/mldsa/internal/fips204"
	"golang.org/x/crypto/cryptobyte"
)

// typeKeyShare is the message type byte of an encoded KeyShare.
const typeKeyShare = 0x10

const subsetSecretSize = 1 + (fips204.L+fips204.K)*fips204.PolyEtaSize // 1409

// MarshalBinary encodes the share (for sealing or for handing it from the
// dealer to its party over a confidential channel):
//
//	0xD6 ‖ 0x10 ‖ T ‖ N ‖ id ‖ pk[1952] ‖ count ‖ count × (mask ‖ 11 × 128 bytes)
//
// The session counter is not part of the encoding: it must come from a
// monotonic source (RestoreSessionCount). The result holds secrets; the
// caller must zeroize it after use.
func (ks *KeyShare) MarshalBinary() ([]byte, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	var b cryptobyte.Builder
	b.AddUint8(wireVersion)
	b.AddUint8(typeKeyShare)
	b.AddUint8(uint8(ks.params.T))
	b.AddUint8(uint8(ks.params.N))
	b.AddUint8(uint8(ks.id))
	b.AddBytes(ks.pk.Bytes())
	b.AddUint8(uint8(len(ks.sec.subs)))
	var buf [fips204.PolyEtaSize]byte
	for i := range ks.sec.subs {
		s := &ks.sec.subs[i]
		b.AddUint8(s.mask)
		for j := range s.s1 {
			fips204.PackEta(buf[:], &s.s1[j])
			b.AddBytes(buf[:])
		}
		for j := range s.s2 {
			fips204.PackEta(buf[:], &s.s2[j])
			b.AddBytes(buf[:])
		}
	}
	clear(buf[:])
	return b.Bytes()
}

// ParseKeyShare decodes a share encoded by MarshalBinary. It checks the
// shape, that the share holds exactly the subsets that contain its id (in
// increasing order), and that every coefficient is in [−η, η].
func ParseKeyShare(data []byte) (*KeyShare, error) {
	s := cryptobyte.String(data)
	var v, typ, t, n, id, count uint8
	if !s.ReadUint8(&v) || !s.ReadUint8(&typ) || !s.ReadUint8(&t) || !s.ReadUint8(&n) || !s.ReadUint8(&id) {
		return nil, malformed("short key share")
	}
	if v != wireVersion || typ != typeKeyShare {
		return nil, malformed("not a key share")
	}
	p, err := ParamsFor(int(t), int(n))
	if err != nil {
		return nil, malformed("key share shape %d-of-%d", t, n)
	}
	if id >= n {
		return nil, malformed("key share id %d of %d", id, n)
	}
	var pkb []byte
	if !s.ReadBytes(&pkb, PublicKeySize) || !s.ReadUint8(&count) {
		return nil, malformed("short key share")
	}
	var want []uint8
	for _, m := range subsets(p.T, p.N) {
		if m&(1<<id) != 0 {
			want = append(want, m)
		}
	}
	if int(count) != len(want) || len(s) != int(count)*subsetSecretSize {
		return nil, malformed("key share with %d subsets and %d bytes left", count, len(s))
	}
	sec := &shareSecrets{subs: make([]subsetSecret, count)}
	for i := range sec.subs {
		sub := &sec.subs[i]
		var raw []byte
		s.ReadUint8(&sub.mask)
		if sub.mask != want[i] {
			sec.zeroize()
			return nil, malformed("key share subset %06b, want %06b", sub.mask, want[i])
		}
		for j := range sub.s1 {
			s.ReadBytes(&raw, fips204.PolyEtaSize)
			if err := fips204.UnpackEta(&sub.s1[j], raw); err != nil {
				sec.zeroize()
				return nil, malformed("key share coefficient out of range")
			}
		}
		for j := range sub.s2 {
			s.ReadBytes(&raw, fips204.PolyEtaSize)
			if err := fips204.UnpackEta(&sub.s2[j], raw); err != nil {
				sec.zeroize()
				return nil, malformed("key share coefficient out of range")
			}
		}
	}
	pk, err := ParsePublicKey(pkb)
	if err != nil {
		sec.zeroize()
		return nil, malformed("key share public key: %v", err)
	}
	return newKeyShare(p, int(id), pk, sec), nil
}
