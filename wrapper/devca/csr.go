package devca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Evidence is what the attestation-evidence extension records.
type Evidence struct {
	Measurement    []byte // SEV-SNP launch measurement (48 bytes)
	TranscriptHash []byte // key ceremony transcript hash (64 bytes)
	Simulated      bool   // the attestation came from a simulated device
}

// Extension encodes e as the attestation-evidence extension:
//
//	AttestationEvidence ::= SEQUENCE {
//	    measurement     OCTET STRING,
//	    transcriptHash  OCTET STRING,
//	    simulated       BOOLEAN DEFAULT FALSE }
func (e *Evidence) Extension() (Extension, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1OctetString(e.Measurement)
		b.AddASN1OctetString(e.TranscriptHash)
		if e.Simulated {
			b.AddASN1Boolean(true)
		}
	})
	v, err := b.Bytes()
	if err != nil {
		return Extension{}, err
	}
	oid, err := tst.EncodeOID(tst.OIDAttestationExt)
	if err != nil {
		return Extension{}, err
	}
	return Extension{OID: oid, Value: v}, nil
}

// ParseEvidence finds and decodes the attestation-evidence extension of c.
func ParseEvidence(c *x509.Certificate) (*Evidence, error) {
	oid, _ := tst.EncodeOID(tst.OIDAttestationExt)
	ext, err := findExtension(c.RawTBSCertificate, oid[2:])
	if err != nil {
		return nil, err
	}
	in := cryptobyte.String(ext)
	var seq, m, t cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() || !seq.ReadASN1(&m, cbasn1.OCTET_STRING) ||
		!seq.ReadASN1(&t, cbasn1.OCTET_STRING) {
		return nil, errors.New("devca: malformed attestation-evidence extension")
	}
	e := &Evidence{Measurement: bytes.Clone(m), TranscriptHash: bytes.Clone(t)}
	if !seq.Empty() {
		var sim cryptobyte.String
		if !seq.ReadASN1(&sim, cbasn1.BOOLEAN) || len(sim) != 1 || sim[0] != 0xff || !seq.Empty() {
			return nil, errors.New("devca: malformed attestation-evidence extension")
		}
		e.Simulated = true
	}
	return e, nil
}

// findExtension returns the value of the extension whose OID content is
// oidContent in a DER TBSCertificate.
func findExtension(tbs, oidContent []byte) ([]byte, error) {
	in := cryptobyte.String(tbs)
	var t cryptobyte.String
	if !in.ReadASN1(&t, cbasn1.SEQUENCE) {
		return nil, errors.New("devca: malformed certificate")
	}
	for !t.Empty() {
		var elem cryptobyte.String
		var tag cbasn1.Tag
		if !t.ReadAnyASN1(&elem, &tag) {
			return nil, errors.New("devca: malformed certificate")
		}
		if tag != cbasn1.Tag(3).ContextSpecific().Constructed() {
			continue
		}
		var exts cryptobyte.String
		if !elem.ReadASN1(&exts, cbasn1.SEQUENCE) {
			return nil, errors.New("devca: malformed extensions")
		}
		for !exts.Empty() {
			var ext, oid, val cryptobyte.String
			if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) {
				return nil, errors.New("devca: malformed extension")
			}
			if ext.PeekASN1Tag(cbasn1.BOOLEAN) {
				var crit cryptobyte.String
				ext.ReadASN1(&crit, cbasn1.BOOLEAN)
			}
			if !ext.ReadASN1(&val, cbasn1.OCTET_STRING) {
				return nil, errors.New("devca: malformed extension")
			}
			if bytes.Equal(oid, oidContent) {
				return val, nil
			}
		}
	}
	return nil, errors.New("devca: certificate has no attestation-evidence extension")
}

// ParseMLDSACSR parses a PKCS #10 request for an ML-DSA-65 key, checks its
// signature (proof of possession: made by the threshold protocol) and
// returns the subject Name DER and the public key.
func ParseMLDSACSR(der []byte) (subject, pub []byte, err error) {
	in := cryptobyte.String(der)
	var csr, info, infoBody, alg, algOID cryptobyte.String
	var sig cbasn1BitString
	if !in.ReadASN1(&csr, cbasn1.SEQUENCE) || !in.Empty() || !csr.ReadASN1Element(&info, cbasn1.SEQUENCE) ||
		!csr.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1Element(&algOID, cbasn1.OBJECT_IDENTIFIER) || !alg.Empty() ||
		!csr.ReadASN1BitString((*asn1.BitString)(&sig)) || !csr.Empty() {
		return nil, nil, errors.New("devca: malformed ML-DSA certification request")
	}
	if !bytes.Equal(algOID, tst.OIDMLDSA65) {
		return nil, nil, errors.New("devca: ML-DSA certification request is not signed with id-ml-dsa-65")
	}
	body := info
	var version int64
	var name, spki, spkiBody, spkiAlg, spkiOID cryptobyte.String
	var key asn1.BitString
	if !body.ReadASN1(&infoBody, cbasn1.SEQUENCE) || !infoBody.ReadASN1Integer(&version) || version != 0 ||
		!infoBody.ReadASN1Element(&name, cbasn1.SEQUENCE) || !infoBody.ReadASN1Element(&spki, cbasn1.SEQUENCE) {
		return nil, nil, errors.New("devca: malformed CertificationRequestInfo")
	}
	spkiBody = spki
	var inner cryptobyte.String
	if !spkiBody.ReadASN1(&inner, cbasn1.SEQUENCE) || !inner.ReadASN1(&spkiAlg, cbasn1.SEQUENCE) ||
		!spkiAlg.ReadASN1Element(&spkiOID, cbasn1.OBJECT_IDENTIFIER) || !spkiAlg.Empty() ||
		!inner.ReadASN1BitString(&key) || !inner.Empty() || !bytes.Equal(spkiOID, tst.OIDMLDSA65) ||
		len(key.Bytes) != mldsa65.PublicKeySize || key.BitLength != 8*mldsa65.PublicKeySize {
		return nil, nil, errors.New("devca: ML-DSA certification request does not hold an ML-DSA-65 key")
	}
	var pk mldsa65.PublicKey
	if err := pk.UnmarshalBinary(key.Bytes); err != nil {
		return nil, nil, fmt.Errorf("devca: %w", err)
	}
	if sig.BitLength != 8*mldsa65.SignatureSize || !mldsa65.Verify(&pk, info, nil, sig.Bytes) {
		return nil, nil, errors.New("devca: ML-DSA certification request signature does not verify")
	}
	return bytes.Clone(name), bytes.Clone(key.Bytes), nil
}

type cbasn1BitString asn1.BitString

// ParseECDSACSR parses and checks a PKCS #10 request for the ECDSA P-384
// key and returns its subject Name DER and public key (uncompressed point).
func ParseECDSACSR(der []byte) (subject, pub []byte, err error) {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, nil, fmt.Errorf("devca: ECDSA certification request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, nil, fmt.Errorf("devca: ECDSA certification request signature: %w", err)
	}
	if csr.SignatureAlgorithm != x509.ECDSAWithSHA384 {
		return nil, nil, errors.New("devca: ECDSA certification request is not signed with ecdsa-with-SHA384")
	}
	k, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, nil, errors.New("devca: ECDSA certification request does not hold an ECDSA key")
	}
	p, err := k.Bytes()
	if err != nil {
		return nil, nil, err
	}
	return csr.RawSubject, p, nil
}

// IssueFromCSRs checks both certification requests (signatures, same
// subject) and issues the TSA certificates, each carrying ev.
func (ca *CA) IssueFromCSRs(mldsaCSR, ecdsaCSR []byte, ev *Evidence) (ecdsaCert, mldsaCert *x509.Certificate, err error) {
	mName, mPub, err := ParseMLDSACSR(mldsaCSR)
	if err != nil {
		return nil, nil, err
	}
	eName, ePub, err := ParseECDSACSR(ecdsaCSR)
	if err != nil {
		return nil, nil, err
	}
	if !bytes.Equal(mName, eName) {
		return nil, nil, errors.New("devca: the two certification requests name different subjects")
	}
	s := &Subject{Name: eName, ECDSAPublicKey: ePub, MLDSAPublicKey: mPub, ECDSAKeyID: keyID(ePub), MLDSAKeyID: keyID(mPub)}
	if ev != nil {
		ext, err := ev.Extension()
		if err != nil {
			return nil, nil, err
		}
		s.Extensions = []Extension{ext}
	}
	return ca.IssueTSA(s)
}
