// Package tsverifytest mints time-stamp tokens for tests of verifiers. A
// Minter holds its own ECDSA P-384 and ML-DSA-65 keys and a development CA
// (wrapper/devca) in memory, and encodes tokens with whatever policy,
// halves, tsa name and genTime a test asks for, including combinations the
// TSA never issues. The tokens are validly signed under the Minter's roots:
// they show what a verifier accepts from someone who holds (or has forged)
// the signing keys.
//
// It enforces nothing; it is for tests only.
package tsverifytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/devca"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Minter issues test tokens under its own CA.
type Minter struct {
	// Roots are the CA's trust anchors (ECDSA first, then ML-DSA).
	Roots []*x509.Certificate
	// ECDSACert and MLDSACert are the TSA certificates; Name is their
	// subject, the DER Name written as the tsa field by default.
	ECDSACert, MLDSACert *x509.Certificate
	Name                 []byte

	ecdsaKey *ecdsa.PrivateKey
	mldsaKey *mldsa65.PrivateKey
}

// Config configures New.
type Config struct {
	// CertExtensions are added to both TSA certificates.
	CertExtensions []devca.Extension
	// MLDSACertExtensions are added to the ML-DSA TSA certificate only.
	MLDSACertExtensions []devca.Extension
}

// New creates a Minter with fresh keys and a fresh CA.
func New(cfg Config) (*Minter, error) {
	ca, err := devca.New("TEST MINTER")
	if err != nil {
		return nil, err
	}
	m := &Minter{Roots: []*x509.Certificate{ca.ECDSARoot, ca.MLDSARoot}}
	if m.ecdsaKey, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		return nil, fmt.Errorf("tsverifytest: %w", err)
	}
	mpk, msk, err := mldsa65.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tsverifytest: %w", err)
	}
	m.mldsaKey = msk
	if m.Name, err = tst.EncodeName([][2]string{{"O", "CC-TSA"}, {"CN", "test minter (NOT A TSA)"}}); err != nil {
		return nil, err
	}
	epub, err := m.ecdsaKey.PublicKey.Bytes()
	if err != nil {
		return nil, fmt.Errorf("tsverifytest: %w", err)
	}
	mpub, err := mpk.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("tsverifytest: %w", err)
	}
	kid := func(b []byte) []byte { h := sha256.Sum256(b); return h[:20] }
	s := &devca.Subject{
		Name: m.Name, ECDSAPublicKey: epub, MLDSAPublicKey: mpub,
		ECDSAKeyID: kid(epub), MLDSAKeyID: kid(mpub), Extensions: cfg.CertExtensions,
	}
	if m.ECDSACert, _, err = ca.IssueTSA(s); err != nil {
		return nil, err
	}
	s.Extensions = append(append([]devca.Extension(nil), cfg.CertExtensions...), cfg.MLDSACertExtensions...)
	if _, m.MLDSACert, err = ca.IssueTSA(s); err != nil {
		return nil, err
	}
	return m, nil
}

// Options returns verifier options that trust the Minter's roots and know
// its TSA certificates.
func (m *Minter) Options() *tsverify.Options {
	return &tsverify.Options{Roots: m.Roots, Certs: []*x509.Certificate{m.ECDSACert, m.MLDSACert}}
}

// Shape says which halves a token has.
type Shape int

// Token shapes.
const (
	// Hybrid is the hybrid token: ECDSA outer token carrying the ML-DSA
	// token, bound by the hash in the ECDSA signed attributes.
	Hybrid Shape = iota
	// ECDSAOnly is an outer ECDSA token with no ML-DSA token and no hash.
	ECDSAOnly
	// MLDSAOnly is the ML-DSA token on its own.
	MLDSAOnly
	// Unbound is an outer ECDSA token carrying the ML-DSA token without the
	// hash attribute that binds it.
	Unbound
)

// Spec describes one token.
type Spec struct {
	Shape Shape
	// Policy is the TSTInfo policy, dotted; empty means the hybrid policy.
	Policy string
	// Data is the time-stamped data (imprint: SHA-512 of it).
	Data []byte
	// GenTime is the content of the genTime GeneralizedTime; empty means
	// the current time in DER form.
	GenTime string
	// TSAName is the DER GeneralName written inside the tsa field; nil
	// means directoryName(Name). OmitTSAName leaves the field out.
	TSAName     []byte
	OmitTSAName bool
	// CertReq includes the signer certificates in the token.
	CertReq bool
}

// DirectoryName returns the DER GeneralName directoryName for a DER Name.
func DirectoryName(name []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { b.AddBytes(name) })
	return b.BytesOrPanic()
}

// TSTInfo returns the DER TSTInfo for s.
func (m *Minter) TSTInfo(s *Spec) ([]byte, error) {
	policy := s.Policy
	if policy == "" {
		policy = tst.OIDPolicyHybrid
	}
	pol, err := tst.EncodeOID(policy)
	if err != nil {
		return nil, err
	}
	gt := s.GenTime
	if gt == "" {
		gt = tst.FormatGeneralizedTime(time.Now())
	}
	name := s.TSAName
	if name == nil {
		name = DirectoryName(m.Name)
	}
	serial := make([]byte, 16)
	rand.Read(serial)
	serial[0] = serial[0]&0x7f | 0x40
	d := sha512.Sum512(s.Data)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddBytes(pol)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(tst.OIDSHA512) })
			b.AddASN1OctetString(d[:])
		})
		b.AddASN1(cbasn1.INTEGER, func(b *cryptobyte.Builder) { b.AddBytes(serial) })
		b.AddASN1(cbasn1.GeneralizedTime, func(b *cryptobyte.Builder) { b.AddBytes([]byte(gt)) })
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddUint8(5) })
		})
		if !s.OmitTSAName {
			b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { b.AddBytes(name) })
		}
	})
	return b.Bytes()
}

// Token mints the DER ContentInfo described by s.
func (m *Minter) Token(s *Spec) ([]byte, error) {
	info, err := m.TSTInfo(s)
	if err != nil {
		return nil, err
	}
	mref, eref := certRef(m.MLDSACert), certRef(m.ECDSACert)
	mattrs, err := tst.MLDSASignedAttrs(info, mref)
	if err != nil {
		return nil, err
	}
	msig := make([]byte, mldsa65.SignatureSize)
	if err := mldsa65.SignTo(m.mldsaKey, mattrs, nil, true, msig); err != nil {
		return nil, fmt.Errorf("tsverifytest: %w", err)
	}
	inner, err := tst.InnerToken(info, mattrs, msig, mref, s.CertReq)
	if err != nil {
		return nil, err
	}
	if s.Shape == MLDSAOnly {
		return inner, nil
	}
	eattrs, err := tst.ECDSASignedAttrs(info, inner, eref)
	if err != nil {
		return nil, err
	}
	if s.Shape != Hybrid {
		if eattrs, err = withoutAttribute(eattrs, tst.OIDPQTokenHash); err != nil {
			return nil, err
		}
	}
	d := sha512.Sum384(eattrs)
	esig, err := ecdsa.SignASN1(rand.Reader, m.ecdsaKey, d[:])
	if err != nil {
		return nil, fmt.Errorf("tsverifytest: %w", err)
	}
	if s.Shape == ECDSAOnly {
		inner = nil
	}
	return m.outer(info, eattrs, esig, inner, s.CertReq)
}

// outer encodes the outer ECDSA ContentInfo; inner, when non-nil, is
// carried as the id-aa-ccTsaPqToken unsigned attribute.
func (m *Minter) outer(info, attrs, sig, inner []byte, withCert bool) ([]byte, error) {
	implicit, err := tst.ImplicitSignedAttrs(attrs)
	if err != nil {
		return nil, err
	}
	c := m.ECDSACert
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tst.OIDSignedData)
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(3)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(tst.OIDSHA384) })
				})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddBytes(tst.OIDTSTInfo)
					b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
						b.AddASN1OctetString(info)
					})
				})
				if withCert {
					b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { b.AddBytes(c.Raw) })
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1Int64(1)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddBytes(c.RawIssuer)
							b.AddASN1BigInt(c.SerialNumber)
						})
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(tst.OIDSHA384) })
						b.AddBytes(implicit)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(tst.OIDECDSAWithSHA384) })
						b.AddASN1OctetString(sig)
						if inner != nil {
							b.AddASN1(cbasn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
								b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
									b.AddBytes(tst.OIDPQToken)
									b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(inner) })
								})
							})
						}
					})
				})
			})
		})
	})
	return b.Bytes()
}

func certRef(c *x509.Certificate) *wire.CertInfo {
	s := c.SerialNumber.Bytes()
	if s[0]&0x80 != 0 {
		s = append([]byte{0}, s...)
	}
	return &wire.CertInfo{Certificate: c.Raw, Issuer: c.RawIssuer, Serial: s}
}

// withoutAttribute returns the DER SET of attributes set without the
// attribute of type oid (a DER OID).
func withoutAttribute(set, oid []byte) ([]byte, error) {
	in := cryptobyte.String(set)
	var body cryptobyte.String
	if !in.ReadASN1(&body, cbasn1.SET) || !in.Empty() {
		return nil, errors.New("tsverifytest: attributes are not a SET")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		for !body.Empty() {
			var full cryptobyte.String
			if !body.ReadASN1Element(&full, cbasn1.SEQUENCE) {
				b.SetError(errors.New("tsverifytest: attribute is not a SEQUENCE"))
				return
			}
			a := full
			var attr, id cryptobyte.String
			if !a.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1Element(&id, cbasn1.OBJECT_IDENTIFIER) {
				b.SetError(errors.New("tsverifytest: attribute"))
				return
			}
			if !bytes.Equal(id, oid) {
				b.AddBytes(full)
			}
		}
	})
	return b.Bytes()
}
