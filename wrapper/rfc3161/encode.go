package rfc3161

import (
	"fmt"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// EncodeRequest returns the DER TimeStampReq for r, for clients. The hash
// algorithm parameters are written as NULL when r.HashParamsNull is set.
// policyOID, when not empty, is written as reqPolicy (dotted form).
func EncodeRequest(r *Request, policyOID string) ([]byte, error) {
	hashOID, err := tst.HashOID(r.HashAlg)
	if err != nil {
		return nil, err
	}
	if len(r.Imprint) != r.HashAlg.Size() {
		return nil, fmt.Errorf("rfc3161: %d-byte imprint for %v", len(r.Imprint), r.HashAlg)
	}
	var pol []byte
	if policyOID != "" {
		if pol, err = tst.EncodeOID(policyOID); err != nil {
			return nil, err
		}
	}
	if r.Nonce != nil {
		if err := wire.CheckNonce(r.Nonce); err != nil {
			return nil, err
		}
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(hashOID)
				if r.HashParamsNull {
					b.AddASN1NULL()
				}
			})
			b.AddASN1OctetString(r.Imprint)
		})
		if pol != nil {
			b.AddBytes(pol)
		}
		if r.Nonce != nil {
			b.AddASN1(cbasn1.INTEGER, func(b *cryptobyte.Builder) { b.AddBytes(r.Nonce) })
		}
		if r.CertReq {
			b.AddASN1Boolean(true)
		}
	})
	return b.Bytes()
}
