package oracle

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/cc-tsa/cc-tsa/cvm/peer"
)

// epochLabel separates membership digests from every other hash.
const epochLabel = "CC-TSA membership epoch v1"

// membershipDigest identifies a membership: the cluster shape and every
// member's index and identity keys, in index order. Messages that must not
// cross from one membership to another bind it.
func membershipDigest(nodes, threshold uint8, epoch uint64, members map[uint8]peer.PublicKeys) [32]byte {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint16(b[:2], uint16(len(epochLabel)))
	h.Write(b[:2])
	h.Write([]byte(epochLabel))
	h.Write([]byte{nodes, threshold})
	binary.BigEndian.PutUint64(b[:], epoch)
	h.Write(b[:])
	ids := make([]uint8, 0, len(members))
	for id := range members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		k := members[id].Marshal()
		h.Write([]byte{id})
		binary.BigEndian.PutUint32(b[:4], uint32(len(k)))
		h.Write(b[:4])
		h.Write(k)
	}
	return [32]byte(h.Sum(nil))
}

// epochID returns the digest of the membership this oracle currently
// works in (see membershipDigest); all zero before it knows its peers.
func (o *Oracle) epochID() [32]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.epoch
}
