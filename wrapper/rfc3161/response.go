package rfc3161

import (
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// PKIStatus values (RFC 3161 §2.4.2).
const (
	StatusGranted   = 0
	StatusRejection = 2
)

// Granted returns a TimeStampResp with status granted carrying token, a DER
// ContentInfo.
func Granted(token []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(StatusGranted)
		})
		b.AddBytes(token)
	})
	return b.Bytes()
}

// Rejection returns a TimeStampResp with status rejection, the refusal's
// reason as statusString and its failure bit as failInfo.
func Rejection(r *Refusal) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(StatusRejection)
			if r.Reason != "" {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) {
						b.AddBytes([]byte(r.Reason))
					})
				})
			}
			b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
				b.AddBytes(failureBits(r.Info))
			})
		})
	})
	return b.BytesOrPanic()
}

// failureBits returns the DER BIT STRING content (leading unused-bits octet
// included) for a named bit list with one bit set: trailing zero bits are
// removed, as DER requires for named bit lists.
func failureBits(bit FailureInfo) []byte {
	n := int(bit)
	out := make([]byte, n/8+2)
	out[0] = byte(7 - n%8)
	out[1+n/8] = 0x80 >> (n % 8)
	return out
}
