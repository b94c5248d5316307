package attest

import (
	"crypto/sha512"
	"encoding/binary"
	"math"
)

// ReportDataLabel is the domain-separation label hashed first into every
// REPORT_DATA value produced by [ReportData].
const ReportDataLabel = "CC-TSA attestation v1"

// ReportDataSize is the size of the SEV-SNP REPORT_DATA field.
const ReportDataSize = 64

// ReportData returns the 64-byte REPORT_DATA that binds a node's keys and a
// verifier's nonce into its attestation report:
//
//	SHA-512( u16(len(L)) || L ||
//	         u32(len(identity)) || identity ||
//	         u32(len(hpke))     || hpke ||
//	         u32(len(nonce))    || nonce )
//
// where L is [ReportDataLabel] ("CC-TSA attestation v1", 21 bytes), every
// length is an unsigned big-endian integer of the width shown, identity is
// the encoded node identity public key, hpke the encoded HPKE public key
// and nonce the verifier's challenge (empty for the report taken at
// start-up). Fields are hashed as given; callers choose and document the
// key encodings. Each field must be shorter than 4 GiB; a longer one cannot
// be encoded and makes ReportData panic (no public key comes close).
func ReportData(identity, hpke, nonce []byte) [ReportDataSize]byte {
	h := sha512.New()
	var l2 [2]byte
	binary.BigEndian.PutUint16(l2[:], uint16(len(ReportDataLabel)))
	h.Write(l2[:])
	h.Write([]byte(ReportDataLabel))
	for _, field := range [][]byte{identity, hpke, nonce} {
		if uint64(len(field)) > math.MaxUint32 {
			panic("attest: ReportData field longer than 4 GiB")
		}
		var l4 [4]byte
		binary.BigEndian.PutUint32(l4[:], uint32(len(field)))
		h.Write(l4[:])
		h.Write(field)
	}
	var out [ReportDataSize]byte
	h.Sum(out[:0])
	return out
}
