package tst

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Info holds the typed fields of one TSTInfo.
type Info struct {
	Fields   wire.TokenFields
	Proposal wire.Proposal
	// TSAName is the DER Name written as the tsa field (directoryName).
	TSAName []byte
}

// GenTime returns the proposal's genTime as a UTC time.
func (in *Info) GenTime() time.Time {
	return time.Unix(in.Proposal.GenTimeUnix, int64(in.Proposal.GenTimeNanos)).UTC()
}

// PolicyOID returns the DER object identifier of policy p.
func PolicyOID(p wire.Policy) ([]byte, error) {
	switch p {
	case wire.PolicyHybrid:
		return OIDPolicyHybridDER, nil
	case wire.PolicyMLDSA:
		return OIDPolicyMLDSAOnlyDER, nil
	}
	return nil, fmt.Errorf("tst: unknown policy %d", p)
}

// HashOID returns the DER object identifier of hash algorithm h.
func HashOID(h wire.HashAlg) ([]byte, error) {
	switch h {
	case wire.SHA256:
		return OIDSHA256, nil
	case wire.SHA384:
		return OIDSHA384, nil
	case wire.SHA512:
		return OIDSHA512, nil
	case wire.SHA3_256:
		return OIDSHA3_256, nil
	case wire.SHA3_384:
		return OIDSHA3_384, nil
	case wire.SHA3_512:
		return OIDSHA3_512, nil
	}
	return nil, fmt.Errorf("tst: unknown hash algorithm %d", h)
}

// FormatGeneralizedTime formats t as a DER GeneralizedTime value with
// microsecond precision: fractional seconds are present only when non-zero
// and carry no trailing zeros (X.690 §11.7).
func FormatGeneralizedTime(t time.Time) string {
	t = t.UTC()
	s := t.Format("20060102150405")
	if us := t.Nanosecond() / 1000; us != 0 {
		frac := strings.TrimRight(fmt.Sprintf("%06d", us), "0")
		s += "." + frac
	}
	return s + "Z"
}

// EncodeTSTInfo returns the DER TSTInfo for in.
func EncodeTSTInfo(in *Info) ([]byte, error) {
	if err := checkElement(in.TSAName, 0x30); err != nil {
		return nil, fmt.Errorf("tst: TSA name: %w", err)
	}
	policy, err := PolicyOID(in.Fields.Policy)
	if err != nil {
		return nil, err
	}
	hashOID, err := HashOID(in.Fields.HashAlg)
	if err != nil {
		return nil, err
	}
	if len(in.Fields.Imprint) != in.Fields.HashAlg.Size() {
		return nil, errors.New("tst: imprint length does not match its hash algorithm")
	}
	if err := wire.CheckSerial(in.Proposal.Serial); err != nil {
		return nil, err
	}
	if in.Fields.Nonce != nil {
		if err := wire.CheckNonce(in.Fields.Nonce); err != nil {
			return nil, err
		}
	}
	acc := in.Proposal.AccuracyMicros
	if acc == 0 || acc > wire.MaxAccuracyMicros {
		return nil, fmt.Errorf("tst: accuracy %d µs out of range", acc)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddBytes(policy)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(hashOID)
				if in.Fields.HashParamsNull {
					b.AddASN1NULL()
				}
			})
			b.AddASN1OctetString(in.Fields.Imprint)
		})
		addInteger(b, in.Proposal.Serial)
		b.AddASN1(cbasn1.GeneralizedTime, func(b *cryptobyte.Builder) {
			b.AddBytes([]byte(FormatGeneralizedTime(in.GenTime())))
		})
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			secs, millis, micros := acc/1_000_000, acc/1000%1000, acc%1000
			if secs != 0 {
				b.AddASN1Uint64(secs)
			}
			if millis != 0 {
				b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddBytes(minimalUint(millis))
				})
			}
			if micros != 0 {
				b.AddASN1(cbasn1.Tag(1).ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddBytes(minimalUint(micros))
				})
			}
		})
		// ordering is DEFAULT FALSE and therefore omitted.
		if in.Fields.Nonce != nil {
			addInteger(b, in.Fields.Nonce)
		}
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddBytes(in.TSAName)
			})
		})
	})
	return b.Bytes()
}

// minimalUint returns the content octets of a DER INTEGER holding v.
func minimalUint(v uint64) []byte {
	var b cryptobyte.Builder
	b.AddASN1Uint64(v)
	der := b.BytesOrPanic()
	return der[2:]
}

func addInteger(b *cryptobyte.Builder, content []byte) {
	b.AddASN1(cbasn1.INTEGER, func(b *cryptobyte.Builder) { b.AddBytes(content) })
}

// CertRef identifies a TSA certificate inside signed attributes and signer
// identifiers: its DER bytes, issuer Name and serial number content octets.
type CertRef = wire.CertInfo

// checkCertRef checks that the opaque parts of c are single DER elements.
func checkCertRef(c *CertRef) error {
	if err := checkElement(c.Certificate, 0x30); err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	if err := checkElement(c.Issuer, 0x30); err != nil {
		return fmt.Errorf("issuer name: %w", err)
	}
	if err := wire.CheckSerial(c.Serial); err != nil {
		return fmt.Errorf("certificate serial: %w", err)
	}
	return nil
}

// CheckCertRef reports whether c can be embedded in tokens.
func CheckCertRef(c *CertRef) error {
	if err := checkCertRef(c); err != nil {
		return fmt.Errorf("tst: %w", err)
	}
	return nil
}

// checkElement checks that der is exactly one DER element with the given
// identifier octet and a minimal definite length. It looks at the outermost
// tag and length only.
func checkElement(der []byte, tag byte) error {
	s := cryptobyte.String(der)
	var elem cryptobyte.String
	var t cbasn1.Tag
	if !s.ReadAnyASN1Element(&elem, &t) || !s.Empty() {
		return errors.New("not a single DER element")
	}
	if byte(t) != tag {
		return fmt.Errorf("tag %#02x, want %#02x", byte(t), tag)
	}
	return nil
}

// essCertIDv2 appends a SigningCertificateV2 attribute value for c, hashing
// the certificate with SHA-512 (explicit algorithm) when sha512 is set and
// with the default SHA-256 otherwise.
func signingCertificateV2(c *CertRef, useSHA512 bool) func(*cryptobyte.Builder) {
	return func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2
					if useSHA512 {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(OIDSHA512) })
						h := sha512.Sum512(c.Certificate)
						b.AddASN1OctetString(h[:])
					} else {
						h := sha256.Sum256(c.Certificate)
						b.AddASN1OctetString(h[:])
					}
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
							b.AddASN1(cbasn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
								b.AddBytes(c.Issuer)
							})
						})
						addInteger(b, c.Serial)
					})
				})
			})
		})
	}
}

func algorithmProtection(digestOID, sigOID []byte) func(*cryptobyte.Builder) {
	return func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(digestOID) })
			b.AddASN1(cbasn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddBytes(sigOID)
			})
		})
	}
}

// attribute encodes one Attribute with a single value.
func attribute(oid []byte, value func(*cryptobyte.Builder)) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(oid)
		b.AddASN1(cbasn1.SET, value)
	})
	return b.Bytes()
}

// attributeSet encodes a DER SET OF Attribute, sorting the encodings.
func attributeSet(attrs ...[]byte) []byte {
	slices.SortFunc(attrs, bytes.Compare)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		for _, a := range attrs {
			b.AddBytes(a)
		}
	})
	return b.BytesOrPanic()
}

func octetString(v []byte) func(*cryptobyte.Builder) {
	return func(b *cryptobyte.Builder) { b.AddASN1OctetString(v) }
}

func oidValue(oid []byte) func(*cryptobyte.Builder) {
	return func(b *cryptobyte.Builder) { b.AddBytes(oid) }
}

func buildAttrs(specs ...attrSpec) ([]byte, error) {
	attrs := make([][]byte, 0, len(specs))
	for _, s := range specs {
		a, err := attribute(s.oid, s.value)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, a)
	}
	return attributeSet(attrs...), nil
}

type attrSpec struct {
	oid   []byte
	value func(*cryptobyte.Builder)
}

// MLDSASignedAttrs returns the DER SET of signed attributes of the ML-DSA-65
// SignerInfo over tstInfo (RFC 9882 with RFC 3161 / RFC 5816): contentType,
// messageDigest (SHA-512), signingCertificateV2 (explicit SHA-512) and
// CMSAlgorithmProtection. ML-DSA signs exactly these bytes.
func MLDSASignedAttrs(tstInfo []byte, cert *CertRef) ([]byte, error) {
	if err := CheckCertRef(cert); err != nil {
		return nil, err
	}
	d := sha512.Sum512(tstInfo)
	return buildAttrs(
		attrSpec{OIDContentType, oidValue(OIDTSTInfo)},
		attrSpec{OIDMessageDigest, octetString(d[:])},
		attrSpec{OIDSigningCertV2, signingCertificateV2(cert, true)},
		attrSpec{OIDAlgProtection, algorithmProtection(OIDSHA512, OIDMLDSA65)},
	)
}

// ECDSASignedAttrs returns the DER SET of signed attributes of the outer
// ECDSA P-384 SignerInfo: contentType, messageDigest (SHA-384),
// signingCertificateV2 (SHA-256, the default), CMSAlgorithmProtection and
// id-aa-ccTsaPqTokenHash = SHA-512(innerToken).
func ECDSASignedAttrs(tstInfo, innerToken []byte, cert *CertRef) ([]byte, error) {
	if err := CheckCertRef(cert); err != nil {
		return nil, err
	}
	d := sha512.Sum384(tstInfo)
	h := sha512.Sum512(innerToken)
	return buildAttrs(
		attrSpec{OIDContentType, oidValue(OIDTSTInfo)},
		attrSpec{OIDMessageDigest, octetString(d[:])},
		attrSpec{OIDSigningCertV2, signingCertificateV2(cert, false)},
		attrSpec{OIDAlgProtection, algorithmProtection(OIDSHA384, OIDECDSAWithSHA384)},
		attrSpec{OIDPQTokenHash, octetString(h[:])},
	)
}

// ImplicitSignedAttrs turns a DER SET of attributes into the [0] IMPLICIT
// form that a SignerInfo carries.
func ImplicitSignedAttrs(set []byte) ([]byte, error) {
	if err := checkElement(set, 0x31); err != nil {
		return nil, fmt.Errorf("tst: signed attributes: %w", err)
	}
	out := bytes.Clone(set)
	out[0] = 0xA0
	return out, nil
}

// InnerToken returns the DER ContentInfo of the ML-DSA-65 time-stamp token
// (RFC 3161 with RFC 9882): SignedData v3 with digest SHA-512, the TSTInfo as
// encapsulated content, the ML-DSA certificate when withCert is set, and one
// SignerInfo identified by issuer and serial number.
func InnerToken(tstInfo, signedAttrs, signature []byte, cert *CertRef, withCert bool) ([]byte, error) {
	if err := CheckCertRef(cert); err != nil {
		return nil, err
	}
	implicit, err := ImplicitSignedAttrs(signedAttrs)
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		b.AddBytes(OIDSignedData)
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(3)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(OIDSHA512) })
				})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncapsulatedContentInfo
					b.AddBytes(OIDTSTInfo)
					b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
						b.AddASN1OctetString(tstInfo)
					})
				})
				if withCert {
					b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
						b.AddBytes(cert.Certificate)
					})
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignerInfo
						b.AddASN1Int64(1)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerAndSerialNumber
							b.AddBytes(cert.Issuer)
							addInteger(b, cert.Serial)
						})
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(OIDSHA512) })
						b.AddBytes(implicit)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(OIDMLDSA65) })
						b.AddASN1OctetString(signature)
					})
				})
			})
		})
	})
	return b.Bytes()
}

// EncodeName returns the DER Name with the given relative distinguished
// names, in order, each a single attribute. Keys are the short names C, O,
// OU and CN; values are encoded as UTF8String (PrintableString for C).
func EncodeName(rdns [][2]string) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, kv := range rdns {
			oid, tag, err := nameAttr(kv[0], kv[1])
			if err != nil {
				b.SetError(err)
				return
			}
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddBytes(oid)
					b.AddASN1(tag, func(b *cryptobyte.Builder) { b.AddBytes([]byte(kv[1])) })
				})
			})
		}
	})
	return b.Bytes()
}

func nameAttr(key, value string) ([]byte, cbasn1.Tag, error) {
	if value == "" || len(value) > 128 || strings.ContainsFunc(value, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, 0, fmt.Errorf("tst: name attribute %s=%s: value must be 1 to 128 printable characters", key, strconv.Quote(value))
	}
	switch key {
	case "C":
		if len(value) != 2 || strings.ToUpper(value) != value {
			return nil, 0, fmt.Errorf("tst: country %q is not a two-letter code", value)
		}
		return mustOID("2.5.4.6"), cbasn1.PrintableString, nil
	case "O":
		return mustOID("2.5.4.10"), cbasn1.UTF8String, nil
	case "OU":
		return mustOID("2.5.4.11"), cbasn1.UTF8String, nil
	case "CN":
		return mustOID("2.5.4.3"), cbasn1.UTF8String, nil
	}
	return nil, 0, fmt.Errorf("tst: unsupported name attribute %q", key)
}

// CheckTSAName reports whether name can be written as the tsa field: one
// DER SEQUENCE (a Name).
func CheckTSAName(name []byte) error {
	if err := checkElement(name, 0x30); err != nil {
		return fmt.Errorf("tst: TSA name: %w", err)
	}
	return nil
}
