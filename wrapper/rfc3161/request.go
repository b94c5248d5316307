// Package rfc3161 parses RFC 3161 TimeStampReq messages strictly and encodes
// TimeStampResp messages, including refusals with the right PKIFailureInfo.
package rfc3161

import (
	"bytes"
	"fmt"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// FailureInfo is an RFC 3161 PKIFailureInfo bit.
type FailureInfo int

// PKIFailureInfo bits used by this TSA (RFC 3161 §2.4.2).
const (
	BadAlg              FailureInfo = 0
	BadRequest          FailureInfo = 2
	BadDataFormat       FailureInfo = 5
	TimeNotAvailable    FailureInfo = 14
	UnacceptedPolicy    FailureInfo = 15
	UnacceptedExtension FailureInfo = 16
	AddInfoNotAvailable FailureInfo = 17
	SystemFailure       FailureInfo = 25
)

func (f FailureInfo) String() string {
	switch f {
	case BadAlg:
		return "badAlg"
	case BadRequest:
		return "badRequest"
	case BadDataFormat:
		return "badDataFormat"
	case TimeNotAvailable:
		return "timeNotAvailable"
	case UnacceptedPolicy:
		return "unacceptedPolicy"
	case UnacceptedExtension:
		return "unacceptedExtension"
	case AddInfoNotAvailable:
		return "addInfoNotAvailable"
	case SystemFailure:
		return "systemFailure"
	}
	return fmt.Sprintf("failInfo(%d)", int(f))
}

// A Refusal is a request the TSA will not serve, with the failure bit and a
// human-readable reason for the response's statusString.
type Refusal struct {
	Info   FailureInfo
	Reason string
}

func (r *Refusal) Error() string { return fmt.Sprintf("rfc3161: %v: %s", r.Info, r.Reason) }

func refuse(info FailureInfo, format string, args ...any) *Refusal {
	return &Refusal{Info: info, Reason: fmt.Sprintf(format, args...)}
}

// Request is a parsed TimeStampReq, reduced to the typed fields the oracle
// needs. Policy is the requested policy, or 0 if the request named none.
type Request struct {
	HashAlg        wire.HashAlg
	HashParamsNull bool
	Imprint        []byte
	Policy         wire.Policy
	Nonce          []byte // INTEGER content octets, nil if absent
	CertReq        bool
}

// MaxRequestSize bounds a TimeStampReq. Any valid request that this TSA
// accepts is far smaller; larger bodies are refused before parsing.
const MaxRequestSize = 64 << 10

var oidSHA1 = mustOID("1.3.14.3.2.26")

func mustOID(s string) []byte {
	b, err := tst.EncodeOID(s)
	if err != nil {
		panic(err)
	}
	return b
}

func hashByOID(oid []byte) (wire.HashAlg, bool) {
	for _, h := range []wire.HashAlg{wire.SHA256, wire.SHA384, wire.SHA512, wire.SHA3_256, wire.SHA3_384, wire.SHA3_512} {
		o, _ := tst.HashOID(h)
		if bytes.Equal(o, oid) {
			return h, true
		}
	}
	return 0, false
}

func policyByOID(oid []byte) (wire.Policy, bool) {
	for _, p := range []wire.Policy{wire.PolicyHybrid, wire.PolicyMLDSA} {
		o, _ := tst.PolicyOID(p)
		if bytes.Equal(o, oid) {
			return p, true
		}
	}
	return 0, false
}

// ParseRequest parses a DER TimeStampReq. Every refusal is a *Refusal
// carrying the PKIFailureInfo to answer with; nothing else is returned as an
// error.
func ParseRequest(der []byte) (*Request, *Refusal) {
	if len(der) > MaxRequestSize {
		return nil, refuse(BadDataFormat, "request of %d bytes exceeds %d", len(der), MaxRequestSize)
	}
	in := cryptobyte.String(der)
	var req, body cryptobyte.String
	if !in.ReadASN1(&req, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, refuse(BadDataFormat, "not a single DER TimeStampReq SEQUENCE")
	}
	body = req
	var version int64
	if !body.ReadASN1Integer(&version) {
		return nil, refuse(BadDataFormat, "version is not a DER INTEGER")
	}
	if version != 1 {
		return nil, refuse(BadDataFormat, "version %d, only v1 is defined", version)
	}

	var imprint, alg cryptobyte.String
	var oid cryptobyte.String
	var r Request
	if !body.ReadASN1(&imprint, cbasn1.SEQUENCE) || !imprint.ReadASN1(&alg, cbasn1.SEQUENCE) ||
		!alg.ReadASN1Element(&oid, cbasn1.OBJECT_IDENTIFIER) {
		return nil, refuse(BadDataFormat, "messageImprint is not a DER MessageImprint")
	}
	if !checkOIDContent(oid) {
		return nil, refuse(BadDataFormat, "hash algorithm identifier is not a valid OBJECT IDENTIFIER")
	}
	if !alg.Empty() {
		var null cryptobyte.String
		if !alg.ReadASN1(&null, cbasn1.NULL) || len(null) != 0 || !alg.Empty() {
			return nil, refuse(BadAlg, "hash algorithm parameters must be absent or NULL")
		}
		r.HashParamsNull = true
	}
	var digest cryptobyte.String
	if !imprint.ReadASN1(&digest, cbasn1.OCTET_STRING) || !imprint.Empty() {
		return nil, refuse(BadDataFormat, "hashedMessage is not a DER OCTET STRING")
	}
	if bytes.Equal(oid, oidSHA1) {
		return nil, refuse(BadAlg, "SHA-1 is not accepted; use SHA-256, SHA-384, SHA-512 or SHA-3")
	}
	h, ok := hashByOID(oid)
	if !ok {
		return nil, refuse(BadAlg, "unsupported hash algorithm; use SHA-256, SHA-384, SHA-512 or SHA-3")
	}
	if len(digest) != h.Size() {
		return nil, refuse(BadDataFormat, "%d-byte imprint for %v (want %d)", len(digest), h, h.Size())
	}
	r.HashAlg = h
	r.Imprint = bytes.Clone(digest)

	if body.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER) {
		var pol cryptobyte.String
		if !body.ReadASN1Element(&pol, cbasn1.OBJECT_IDENTIFIER) || !checkOIDContent(pol) {
			return nil, refuse(BadDataFormat, "reqPolicy is not a valid OBJECT IDENTIFIER")
		}
		p, ok := policyByOID(pol)
		if !ok {
			return nil, refuse(UnacceptedPolicy, "policy not offered; this TSA offers %s (hybrid) and %s (ML-DSA-65 only)", tst.OIDPolicyHybrid, tst.OIDPolicyMLDSA)
		}
		r.Policy = p
	}
	if body.PeekASN1Tag(cbasn1.INTEGER) {
		var n cryptobyte.String
		if !body.ReadASN1(&n, cbasn1.INTEGER) {
			return nil, refuse(BadDataFormat, "nonce is not a DER INTEGER")
		}
		if len(n) == 0 || (len(n) > 1 && (n[0] == 0 && n[1]&0x80 == 0 || n[0] == 0xff && n[1]&0x80 != 0)) {
			return nil, refuse(BadDataFormat, "nonce is not a minimally encoded INTEGER")
		}
		if err := wire.CheckNonce(n); err != nil {
			return nil, refuse(BadRequest, "nonce must be a non-negative INTEGER of at most 160 bits")
		}
		r.Nonce = bytes.Clone(n)
	}
	if body.PeekASN1Tag(cbasn1.BOOLEAN) {
		var b cryptobyte.String
		if !body.ReadASN1(&b, cbasn1.BOOLEAN) || len(b) != 1 || (b[0] != 0 && b[0] != 0xff) {
			return nil, refuse(BadDataFormat, "certReq is not a DER BOOLEAN")
		}
		if b[0] == 0 {
			return nil, refuse(BadDataFormat, "certReq FALSE must be omitted in DER (DEFAULT FALSE)")
		}
		r.CertReq = true
	}
	if body.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()) {
		var exts cryptobyte.String
		if !body.ReadASN1(&exts, cbasn1.Tag(0).ContextSpecific().Constructed()) {
			return nil, refuse(BadDataFormat, "extensions are not DER")
		}
		if exts.Empty() {
			return nil, refuse(BadDataFormat, "extensions present but empty")
		}
		for !exts.Empty() {
			var ext, extOID cryptobyte.String
			if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1Element(&extOID, cbasn1.OBJECT_IDENTIFIER) {
				return nil, refuse(BadDataFormat, "extension is not a DER Extension")
			}
			critical := false
			if ext.PeekASN1Tag(cbasn1.BOOLEAN) {
				var c cryptobyte.String
				if !ext.ReadASN1(&c, cbasn1.BOOLEAN) || len(c) != 1 || c[0] != 0xff {
					return nil, refuse(BadDataFormat, "extension criticality is not DER")
				}
				critical = true
			}
			var val cryptobyte.String
			if !ext.ReadASN1(&val, cbasn1.OCTET_STRING) || !ext.Empty() {
				return nil, refuse(BadDataFormat, "extension value is not a DER OCTET STRING")
			}
			// RFC 3161 §2.4.1: an extension the TSA does not recognise,
			// critical or not, must be refused. This TSA recognises none.
			kind := "non-critical"
			if critical {
				kind = "critical"
			}
			return nil, refuse(UnacceptedExtension, "%s request extension %x is not supported", kind, []byte(extOID))
		}
	}
	if !body.Empty() {
		return nil, refuse(BadDataFormat, "unexpected or misordered fields in TimeStampReq")
	}
	return &r, nil
}

// checkOIDContent checks that a DER OBJECT IDENTIFIER element has
// well-formed, minimally encoded arcs.
func checkOIDContent(elem []byte) bool {
	if len(elem) < 3 || elem[0] != 0x06 {
		return false
	}
	s := cryptobyte.String(elem)
	var content cryptobyte.String
	if !s.ReadASN1(&content, cbasn1.OBJECT_IDENTIFIER) || len(content) == 0 {
		return false
	}
	start := true
	for i, c := range content {
		if start && c == 0x80 {
			return false // non-minimal arc
		}
		start = c&0x80 == 0
		if i == len(content)-1 && !start {
			return false // truncated arc
		}
	}
	return true
}
