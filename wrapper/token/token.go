// Package token assembles RFC 3161 time-stamp tokens from what the oracles
// encoded and signed: the outer ECDSA P-384 CMS SignedData of the hybrid
// token, which carries the complete ML-DSA-65 token as an unsigned attribute.
//
// The wrapper never decides what is signed. It wraps the oracles' TSTInfo,
// signed attributes, signatures and inner token in the CMS structures that
// are not covered by a signature (certificate sets, signer identifiers).
package token

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Assembler builds outer tokens for one ECDSA TSA certificate. Its
// certificate set and signer identifier are encoded once, at construction.
type Assembler struct {
	sid     []byte // DER IssuerAndSerialNumber
	certSet []byte // DER [0] IMPLICIT CertificateSet, for certReq
}

// NewAssembler prepares an assembler for the ECDSA TSA certificate cert and
// the intermediate certificates to include with it when a request asks for
// certificates (the trust anchor is not included).
func NewAssembler(cert *x509.Certificate, intermediates []*x509.Certificate) (*Assembler, error) {
	if cert == nil {
		return nil, errors.New("token: no ECDSA TSA certificate")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(cert.RawIssuer)
		b.AddASN1BigInt(cert.SerialNumber)
	})
	sid, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("token: encoding signer identifier: %w", err)
	}
	var cb cryptobyte.Builder
	cb.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
		b.AddBytes(cert.Raw)
		for _, c := range intermediates {
			b.AddBytes(c.Raw)
		}
	})
	set, err := cb.Bytes()
	if err != nil {
		return nil, fmt.Errorf("token: encoding certificate set: %w", err)
	}
	return &Assembler{sid: sid, certSet: set}, nil
}

// Parts are the oracle-produced pieces of a hybrid token.
type Parts struct {
	TSTInfo          []byte // DER TSTInfo
	ECDSASignedAttrs []byte // DER SET OF Attribute, as signed
	ECDSASignature   []byte // DER Ecdsa-Sig-Value
	InnerToken       []byte // DER ContentInfo of the ML-DSA-65 token
}

// Hybrid returns the DER ContentInfo of the outer token. withCerts includes
// the certificate set (the request's certReq).
func (a *Assembler) Hybrid(p *Parts, withCerts bool) ([]byte, error) {
	signed, err := tst.ImplicitSignedAttrs(p.ECDSASignedAttrs)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		b.AddBytes(tst.OIDSignedData)
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(3)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(tst.OIDSHA384) })
				})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddBytes(tst.OIDTSTInfo)
					b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
						b.AddASN1OctetString(p.TSTInfo)
					})
				})
				if withCerts {
					b.AddBytes(a.certSet)
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignerInfo
						b.AddASN1Int64(1)
						b.AddBytes(a.sid)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(tst.OIDSHA384) })
						b.AddBytes(signed)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(tst.OIDECDSAWithSHA384) })
						b.AddASN1OctetString(p.ECDSASignature)
						b.AddASN1(cbasn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // Attribute
								b.AddBytes(tst.OIDPQToken)
								b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(p.InnerToken) })
							})
						})
					})
				})
			})
		})
	})
	return b.Bytes()
}
