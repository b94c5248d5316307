// Package devca is the local certificate authority of development mode. It
// creates two trust anchors, an ECDSA P-384 root for the classical chain and
// an ML-DSA-65 root for the post-quantum chain (RFC 9881, self-signed with
// circl), and issues TSA certificates for the oracles' public keys.
//
// TSA certificates carry a critical extended key usage whose only purpose is
// id-kp-timeStamping and key usage digitalSignature (RFC 3161 §2.3). Their
// subject is the DER Name the oracle writes into its tokens, and their
// subject key identifier is the one the oracle computed.
//
// The CA's private keys live only in memory: a development CA is made anew
// every time development mode starts.
package devca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// CA is a development certificate authority with one root per algorithm.
type CA struct {
	ECDSARoot *x509.Certificate
	MLDSARoot *x509.Certificate

	ecdsaKey *ecdsa.PrivateKey
	mldsaKey *mldsa65.PrivateKey
	label    string
}

// Validity of development certificates.
const (
	rootValidity = 10 * 365 * 24 * time.Hour
	leafValidity = 2 * 365 * 24 * time.Hour
	backdate     = time.Hour
)

// New creates a development CA. label is added to the roots' common names
// (for example "SIMULATED SEV-SNP") so that nobody mistakes them for
// production anchors.
func New(label string) (*CA, error) {
	ca := &CA{label: label}
	var err error
	if ca.ecdsaKey, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		return nil, fmt.Errorf("devca: ECDSA root key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{Organization: []string{"CC-TSA"}, CommonName: "CC-TSA development root ECDSA P-384 (" + label + ")"},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(rootValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          ecdsaKeyID(&ca.ecdsaKey.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ca.ecdsaKey.PublicKey, ca.ecdsaKey)
	if err != nil {
		return nil, fmt.Errorf("devca: ECDSA root: %w", err)
	}
	if ca.ECDSARoot, err = x509.ParseCertificate(der); err != nil {
		return nil, fmt.Errorf("devca: ECDSA root: %w", err)
	}

	mpk, msk, err := mldsa65.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devca: ML-DSA root key: %w", err)
	}
	ca.mldsaKey = msk
	mpub, _ := mpk.MarshalBinary()
	name, err := tst.EncodeName([][2]string{{"O", "CC-TSA"}, {"CN", "CC-TSA development root ML-DSA-65 (" + label + ")"}})
	if err != nil {
		return nil, fmt.Errorf("devca: ML-DSA root name: %w", err)
	}
	kid := keyID(mpub)
	rspki, err := tst.MLDSAPublicKeyInfo(mpub)
	if err != nil {
		return nil, err
	}
	der, err = ca.sign(&certTemplate{
		serial: randomSerial(), issuer: name, subject: name,
		notBefore: now.Add(-backdate), notAfter: now.Add(rootValidity),
		spki: rspki, isCA: true, keyID: kid,
	}, tst.OIDMLDSA65)
	if err != nil {
		return nil, fmt.Errorf("devca: ML-DSA root: %w", err)
	}
	if ca.MLDSARoot, err = x509.ParseCertificate(der); err != nil {
		return nil, fmt.Errorf("devca: parsing ML-DSA root: %w", err)
	}
	return ca, nil
}

// Subject describes the TSA a certificate is issued to.
type Subject struct {
	Name           []byte // DER Name, used verbatim as the subject
	ECDSAPublicKey []byte // uncompressed P-384 point
	MLDSAPublicKey []byte // 1952-byte ML-DSA-65 public key
	ECDSAKeyID     []byte
	MLDSAKeyID     []byte
	// Extensions are added to both certificates (for example attestation
	// evidence).
	Extensions []Extension
}

// Extension is a certificate extension with a DER object identifier (which,
// unlike encoding/asn1's, may have arcs of any size).
type Extension struct {
	OID      []byte // DER OBJECT IDENTIFIER, tag and length included
	Critical bool
	Value    []byte
}

var (
	oidEKU           = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidTimeStamping  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	criticalTSAUsage = mustEKU()
)

func mustEKU() pkix.Extension {
	v, err := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping})
	if err != nil {
		panic(err)
	}
	return pkix.Extension{Id: oidEKU, Critical: true, Value: v}
}

// IssueTSA issues the ECDSA and the ML-DSA TSA certificates for s.
func (ca *CA) IssueTSA(s *Subject) (ecdsaCert, mldsaCert *x509.Certificate, err error) {
	if _, err := ecdsa.ParseUncompressedPublicKey(elliptic.P384(), s.ECDSAPublicKey); err != nil {
		return nil, nil, fmt.Errorf("devca: oracle's ECDSA public key: %w", err)
	}
	var mpk mldsa65.PublicKey
	if err := mpk.UnmarshalBinary(s.MLDSAPublicKey); err != nil {
		return nil, nil, fmt.Errorf("devca: oracle's ML-DSA public key: %w", err)
	}
	if len(s.ECDSAKeyID) != 20 || len(s.MLDSAKeyID) != 20 {
		return nil, nil, errors.New("devca: key identifiers must be 20 bytes")
	}
	now := time.Now()
	espki, err := tst.ECDSAPublicKeyInfo(s.ECDSAPublicKey)
	if err != nil {
		return nil, nil, err
	}
	der, err := ca.sign(&certTemplate{
		serial: randomSerial(), issuer: ca.ECDSARoot.RawSubject, subject: s.Name,
		notBefore: now.Add(-backdate), notAfter: now.Add(leafValidity),
		spki: espki, keyID: s.ECDSAKeyID, authorityKeyID: ca.ECDSARoot.SubjectKeyId, extra: s.Extensions,
	}, tst.OIDECDSAWithSHA384)
	if err != nil {
		return nil, nil, fmt.Errorf("devca: ECDSA TSA certificate: %w", err)
	}
	if ecdsaCert, err = x509.ParseCertificate(der); err != nil {
		return nil, nil, err
	}
	mspki, err := tst.MLDSAPublicKeyInfo(s.MLDSAPublicKey)
	if err != nil {
		return nil, nil, err
	}
	der, err = ca.sign(&certTemplate{
		serial: randomSerial(), issuer: ca.MLDSARoot.RawSubject, subject: s.Name,
		notBefore: now.Add(-backdate), notAfter: now.Add(leafValidity),
		spki: mspki, keyID: s.MLDSAKeyID, authorityKeyID: ca.MLDSARoot.SubjectKeyId,
		extra: s.Extensions,
	}, tst.OIDMLDSA65)
	if err != nil {
		return nil, nil, fmt.Errorf("devca: ML-DSA TSA certificate: %w", err)
	}
	if mldsaCert, err = x509.ParseCertificate(der); err != nil {
		return nil, nil, err
	}
	return ecdsaCert, mldsaCert, nil
}

// RootsPEM returns both roots as PEM, ECDSA first.
func (ca *CA) RootsPEM() []byte {
	return append(CertPEM(ca.ECDSARoot), CertPEM(ca.MLDSARoot)...)
}

// CertPEM returns c as a PEM CERTIFICATE block.
func CertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func randomSerial() *big.Int {
	b := make([]byte, 16)
	rand.Read(b)
	b[0] = b[0]&0x3f | 0x40
	return new(big.Int).SetBytes(b)
}

func keyID(pub []byte) []byte {
	h := sha256.Sum256(pub)
	return h[:20]
}

func ecdsaKeyID(pub *ecdsa.PublicKey) []byte {
	b, err := pub.Bytes()
	if err != nil {
		panic(err)
	}
	return keyID(b)
}

type certTemplate struct {
	serial              *big.Int
	issuer, subject     []byte
	notBefore, notAfter time.Time
	spki                []byte // DER SubjectPublicKeyInfo
	isCA                bool
	keyID               []byte
	authorityKeyID      []byte
	extra               []Extension
}

// sign encodes a certificate for t and signs it with the root of the given
// algorithm: ecdsa-with-SHA384 or id-ml-dsa-65 (RFC 9881: parameters
// absent, empty context).
func (ca *CA) sign(t *certTemplate, sigAlg []byte) ([]byte, error) {
	algID := func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(sigAlg) })
	}
	var tb cryptobyte.Builder
	tb.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { b.AddASN1Int64(2) })
		b.AddASN1BigInt(t.serial)
		algID(b)
		b.AddBytes(t.issuer)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1UTCTime(t.notBefore.UTC().Truncate(time.Second))
			b.AddASN1UTCTime(t.notAfter.UTC().Truncate(time.Second))
		})
		b.AddBytes(t.subject)
		b.AddBytes(t.spki)
		b.AddASN1(cbasn1.Tag(3).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				ext := func(oid []byte, critical bool, value []byte) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddBytes(oid)
						if critical {
							b.AddASN1Boolean(true)
						}
						b.AddASN1OctetString(value)
					})
				}
				if t.isCA {
					ext(oidBasicConstraints, true, []byte{0x30, 0x03, 0x01, 0x01, 0xff})
					ext(oidKeyUsage, true, []byte{0x03, 0x02, 0x01, 0x06}) // keyCertSign, cRLSign
				} else {
					ext(oidBasicConstraints, true, []byte{0x30, 0x00})
					ext(oidKeyUsage, true, []byte{0x03, 0x02, 0x07, 0x80}) // digitalSignature
					ext(oidExtKeyUsage, true, criticalTSAUsage.Value)
				}
				ski, _ := asn1.Marshal(t.keyID)
				ext(oidSubjectKeyID, false, ski)
				if t.authorityKeyID != nil {
					aki := append([]byte{0x30, byte(len(t.authorityKeyID) + 2), 0x80, byte(len(t.authorityKeyID))}, t.authorityKeyID...)
					ext(oidAuthorityKeyID, false, aki)
				}
				for _, e := range t.extra {
					ext(e.OID, e.Critical, e.Value)
				}
			})
		})
	})
	tbs, err := tb.Bytes()
	if err != nil {
		return nil, err
	}
	var sig []byte
	switch {
	case bytes.Equal(sigAlg, tst.OIDMLDSA65):
		sig = make([]byte, mldsa65.SignatureSize)
		if err := mldsa65.SignTo(ca.mldsaKey, tbs, nil, true, sig); err != nil {
			return nil, err
		}
	case bytes.Equal(sigAlg, tst.OIDECDSAWithSHA384):
		d := sha512.Sum384(tbs)
		if sig, err = ecdsa.SignASN1(rand.Reader, ca.ecdsaKey, d[:]); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("devca: unsupported signature algorithm")
	}
	var cb cryptobyte.Builder
	cb.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		algID(b)
		b.AddASN1BitString(sig)
	})
	return cb.Bytes()
}

var (
	oidBasicConstraints = mustDER("2.5.29.19")
	oidKeyUsage         = mustDER("2.5.29.15")
	oidExtKeyUsage      = mustDER("2.5.29.37")
	oidSubjectKeyID     = mustDER("2.5.29.14")
	oidAuthorityKeyID   = mustDER("2.5.29.35")
)

func mustDER(s string) []byte {
	b, err := tst.EncodeOID(s)
	if err != nil {
		panic(err)
	}
	return b
}
