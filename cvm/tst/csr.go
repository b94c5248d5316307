package tst

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	oidECPublicKey = mustOID("1.2.840.10045.2.1")
	oidSecp384r1   = mustOID("1.3.132.0.34")
)

// ECDSAPublicKeyInfo returns the DER SubjectPublicKeyInfo of an uncompressed
// P-384 point.
func ECDSAPublicKeyInfo(point []byte) ([]byte, error) {
	if len(point) != 97 || point[0] != 4 {
		return nil, fmt.Errorf("tst: not an uncompressed P-384 point")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(oidECPublicKey)
			b.AddBytes(oidSecp384r1)
		})
		b.AddASN1BitString(point)
	})
	return b.Bytes()
}

// MLDSAPublicKeyInfo returns the DER SubjectPublicKeyInfo of an ML-DSA-65
// public key (RFC 9881: parameters absent, the key as the BIT STRING).
func MLDSAPublicKeyInfo(pk []byte) ([]byte, error) {
	if len(pk) != 1952 {
		return nil, fmt.Errorf("tst: ML-DSA-65 public key of %d bytes", len(pk))
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(OIDMLDSA65) })
		b.AddASN1BitString(pk)
	})
	return b.Bytes()
}

// CertificationRequestInfo returns the DER CertificationRequestInfo
// (PKCS #10) for subject and spki, without attributes.
func CertificationRequestInfo(subject, spki []byte) ([]byte, error) {
	if err := CheckTSAName(subject); err != nil {
		return nil, err
	}
	if err := checkElement(spki, 0x30); err != nil {
		return nil, fmt.Errorf("tst: public key info: %w", err)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(0)
		b.AddBytes(subject)
		b.AddBytes(spki)
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {})
	})
	return b.Bytes()
}

// CertificationRequest returns the DER CertificationRequest for info signed
// with sig under the algorithm sigAlgOID (a DER OID; parameters absent).
func CertificationRequest(info, sigAlgOID, sig []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(info)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(sigAlgOID) })
		b.AddASN1BitString(sig)
	})
	return b.Bytes()
}
