// Package tsverify verifies CC-TSA time-stamp responses and tokens: the
// outer ECDSA P-384 token, the ML-DSA-65 token it carries, the hash that
// binds the two, the certificate chains and the message imprint.
//
// The token's policy decides what must be present (hybrid: both halves and
// the binding; ML-DSA-only: the ML-DSA-65 token); accepting less takes an
// explicit opt-out (Options.ClassicalOnly, Options.PQOnly), and a policy
// this TSA does not define is refused.
//
// The same code serves `cc-tsa verify` and the wrapper's check of every
// token before release. The parser is strict DER and bounded; it accepts the
// profile this TSA issues (RFC 3161, RFC 5816, RFC 9882) and rejects
// anything else with an error that names the problem.
package tsverify

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ErrMalformed is wrapped by every error about bytes that do not parse.
var ErrMalformed = errors.New("tsverify: malformed")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// MaxTokenSize bounds the tokens this package parses.
const MaxTokenSize = 1 << 20

// signedData is a parsed CMS SignedData with exactly one SignerInfo.
type signedData struct {
	digestAlgs   [][]byte // DER OIDs
	eContentType []byte   // DER OID
	eContent     []byte
	certs        [][]byte // DER certificates
	signer       signerInfo
}

type signerInfo struct {
	version     int64
	issuer      []byte // DER Name, for issuerAndSerialNumber
	serial      *big.Int
	keyID       []byte // for subjectKeyIdentifier
	digestAlg   []byte // DER OID
	signedAttrs []byte // DER SET OF Attribute (re-tagged from [0])
	attrs       map[string][]byte
	sigAlg      []byte // DER OID
	sigParams   bool   // parameters present
	signature   []byte
	unsigned    map[string][]byte
}

// parseContentInfo parses a DER ContentInfo holding SignedData.
func parseContentInfo(der []byte) (*signedData, error) {
	if len(der) > MaxTokenSize {
		return nil, malformed("token of %d bytes exceeds %d", len(der), MaxTokenSize)
	}
	in := cryptobyte.String(der)
	var ci, oid, explicit, sd cryptobyte.String
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !in.Empty() ||
		!ci.ReadASN1Element(&oid, cbasn1.OBJECT_IDENTIFIER) ||
		!ci.ReadASN1(&explicit, cbasn1.Tag(0).ContextSpecific().Constructed()) || !ci.Empty() {
		return nil, malformed("not a DER ContentInfo")
	}
	if !bytes.Equal(oid, tst.OIDSignedData) {
		return nil, malformed("content type is not signedData")
	}
	if !explicit.ReadASN1(&sd, cbasn1.SEQUENCE) || !explicit.Empty() {
		return nil, malformed("SignedData is not a DER SEQUENCE")
	}
	var s signedData
	var version int64
	var algs, encap cryptobyte.String
	if !sd.ReadASN1Integer(&version) || version != 3 {
		return nil, malformed("SignedData version is not 3")
	}
	if !sd.ReadASN1(&algs, cbasn1.SET) {
		return nil, malformed("SignedData digestAlgorithms")
	}
	for !algs.Empty() {
		alg, _, err := readAlgorithm(&algs)
		if err != nil {
			return nil, fmt.Errorf("SignedData digestAlgorithms: %w", err)
		}
		s.digestAlgs = append(s.digestAlgs, alg)
	}
	var ctype, econtent, octets cryptobyte.String
	if !sd.ReadASN1(&encap, cbasn1.SEQUENCE) || !encap.ReadASN1Element(&ctype, cbasn1.OBJECT_IDENTIFIER) ||
		!encap.ReadASN1(&econtent, cbasn1.Tag(0).ContextSpecific().Constructed()) || !encap.Empty() ||
		!econtent.ReadASN1(&octets, cbasn1.OCTET_STRING) || !econtent.Empty() {
		return nil, malformed("SignedData encapContentInfo")
	}
	s.eContentType, s.eContent = ctype, octets
	if sd.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()) {
		var certs cryptobyte.String
		if !sd.ReadASN1(&certs, cbasn1.Tag(0).ContextSpecific().Constructed()) {
			return nil, malformed("SignedData certificates")
		}
		for !certs.Empty() {
			var c cryptobyte.String
			if !certs.ReadASN1Element(&c, cbasn1.SEQUENCE) {
				return nil, malformed("SignedData certificates: only X.509 certificates are accepted")
			}
			s.certs = append(s.certs, c)
		}
	}
	if sd.PeekASN1Tag(cbasn1.Tag(1).ContextSpecific().Constructed()) {
		return nil, malformed("SignedData carries CRLs, which this profile does not use")
	}
	var signers, si cryptobyte.String
	if !sd.ReadASN1(&signers, cbasn1.SET) || !sd.Empty() {
		return nil, malformed("SignedData signerInfos")
	}
	if !signers.ReadASN1(&si, cbasn1.SEQUENCE) || !signers.Empty() {
		return nil, malformed("SignedData must carry exactly one SignerInfo")
	}
	if err := parseSignerInfo(si, &s.signer); err != nil {
		return nil, err
	}
	// The only digest algorithm announced is the one the signer uses.
	if len(s.digestAlgs) != 1 || !bytes.Equal(s.digestAlgs[0], s.signer.digestAlg) {
		return nil, malformed("SignedData digestAlgorithms do not match the SignerInfo")
	}
	return &s, nil
}

func parseSignerInfo(si cryptobyte.String, out *signerInfo) error {
	if !si.ReadASN1Integer(&out.version) {
		return malformed("SignerInfo version")
	}
	switch out.version {
	case 1:
		var ias, issuer cryptobyte.String
		out.serial = new(big.Int)
		if !si.ReadASN1(&ias, cbasn1.SEQUENCE) || !ias.ReadASN1Element(&issuer, cbasn1.SEQUENCE) ||
			!ias.ReadASN1Integer(out.serial) || !ias.Empty() {
			return malformed("SignerInfo issuerAndSerialNumber")
		}
		out.issuer = issuer
	case 3:
		var kid cryptobyte.String
		if !si.ReadASN1(&kid, cbasn1.Tag(0).ContextSpecific()) || len(kid) == 0 {
			return malformed("SignerInfo subjectKeyIdentifier")
		}
		out.keyID = kid
	default:
		return malformed("SignerInfo version %d", out.version)
	}
	alg, _, err := readAlgorithm(&si)
	if err != nil {
		return fmt.Errorf("SignerInfo digestAlgorithm: %w", err)
	}
	out.digestAlg = alg
	var attrs cryptobyte.String
	if !si.ReadASN1Element(&attrs, cbasn1.Tag(0).ContextSpecific().Constructed()) {
		return malformed("SignerInfo has no signed attributes")
	}
	out.signedAttrs = bytes.Clone(attrs)
	out.signedAttrs[0] = 0x31 // the signature covers the SET OF encoding
	if out.attrs, err = parseAttributes(out.signedAttrs, true); err != nil {
		return fmt.Errorf("signed attributes: %w", err)
	}
	if out.sigAlg, out.sigParams, err = readAlgorithm(&si); err != nil {
		return fmt.Errorf("SignerInfo signatureAlgorithm: %w", err)
	}
	var sig cryptobyte.String
	if !si.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return malformed("SignerInfo signature")
	}
	out.signature = sig
	if si.PeekASN1Tag(cbasn1.Tag(1).ContextSpecific().Constructed()) {
		var u cryptobyte.String
		if !si.ReadASN1Element(&u, cbasn1.Tag(1).ContextSpecific().Constructed()) {
			return malformed("SignerInfo unsigned attributes")
		}
		set := bytes.Clone(u)
		set[0] = 0x31
		if out.unsigned, err = parseAttributes(set, false); err != nil {
			return fmt.Errorf("unsigned attributes: %w", err)
		}
	}
	if !si.Empty() {
		return malformed("SignerInfo has trailing fields")
	}
	return nil
}

// parseAttributes parses a DER SET OF Attribute in which every attribute
// has exactly one value. It returns the values keyed by the DER OID. For
// signed attributes it also checks the DER ordering of the SET.
func parseAttributes(set []byte, checkOrder bool) (map[string][]byte, error) {
	in := cryptobyte.String(set)
	var body cryptobyte.String
	if !in.ReadASN1(&body, cbasn1.SET) || !in.Empty() {
		return nil, malformed("attributes are not a DER SET")
	}
	m := make(map[string][]byte)
	var prev []byte
	for !body.Empty() {
		var attr, full, oid, vals, val cryptobyte.String
		if !body.ReadASN1Element(&full, cbasn1.SEQUENCE) {
			return nil, malformed("attribute is not a SEQUENCE")
		}
		if checkOrder && prev != nil && bytes.Compare(prev, full) > 0 {
			return nil, malformed("attributes are not in DER SET order")
		}
		prev = full
		if !full.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1Element(&oid, cbasn1.OBJECT_IDENTIFIER) ||
			!attr.ReadASN1(&vals, cbasn1.SET) || !attr.Empty() {
			return nil, malformed("attribute")
		}
		if !vals.ReadAnyASN1Element(&val, nil) || !vals.Empty() {
			return nil, malformed("attribute %x must have exactly one value", []byte(oid))
		}
		if _, dup := m[string(oid)]; dup {
			return nil, malformed("attribute %x appears twice", []byte(oid))
		}
		m[string(oid)] = val
	}
	return m, nil
}

// readAlgorithm reads an AlgorithmIdentifier whose parameters are absent or
// NULL, returning the DER OID and whether a NULL was present.
func readAlgorithm(in *cryptobyte.String) ([]byte, bool, error) {
	var alg, oid cryptobyte.String
	if !in.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1Element(&oid, cbasn1.OBJECT_IDENTIFIER) {
		return nil, false, malformed("AlgorithmIdentifier")
	}
	if alg.Empty() {
		return oid, false, nil
	}
	var null cryptobyte.String
	if !alg.ReadASN1(&null, cbasn1.NULL) || len(null) != 0 || !alg.Empty() {
		return nil, false, malformed("AlgorithmIdentifier parameters other than NULL")
	}
	return oid, true, nil
}

// Info is a parsed TSTInfo.
type Info struct {
	Raw            []byte
	Policy         []byte // DER OID
	HashAlg        []byte // DER OID
	HashParamsNull bool
	Imprint        []byte
	Serial         *big.Int
	GenTime        time.Time
	Accuracy       time.Duration // 0 if absent
	Ordering       bool
	Nonce          *big.Int // nil if absent
	TSAName        []byte   // DER GeneralName inside [0] (one element), nil if absent
}

// ParseTSTInfo parses a DER TSTInfo.
func ParseTSTInfo(der []byte) (*Info, error) {
	in := cryptobyte.String(der)
	var t cryptobyte.String
	info := &Info{Raw: der}
	if !in.ReadASN1(&t, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, malformed("TSTInfo is not a DER SEQUENCE")
	}
	var version int64
	if !t.ReadASN1Integer(&version) || version != 1 {
		return nil, malformed("TSTInfo version is not 1")
	}
	var pol, imprint, digest cryptobyte.String
	if !t.ReadASN1Element(&pol, cbasn1.OBJECT_IDENTIFIER) {
		return nil, malformed("TSTInfo policy")
	}
	info.Policy = pol
	if !t.ReadASN1(&imprint, cbasn1.SEQUENCE) {
		return nil, malformed("TSTInfo messageImprint")
	}
	var err error
	if info.HashAlg, info.HashParamsNull, err = readAlgorithm(&imprint); err != nil {
		return nil, fmt.Errorf("TSTInfo messageImprint: %w", err)
	}
	if !imprint.ReadASN1(&digest, cbasn1.OCTET_STRING) || !imprint.Empty() {
		return nil, malformed("TSTInfo hashedMessage")
	}
	info.Imprint = digest
	info.Serial = new(big.Int)
	if !t.ReadASN1Integer(info.Serial) || info.Serial.Sign() <= 0 {
		return nil, malformed("TSTInfo serialNumber must be a positive INTEGER")
	}
	if len(info.Serial.Bytes()) > 20 {
		return nil, malformed("TSTInfo serialNumber longer than 20 octets")
	}
	var gt cryptobyte.String
	if !t.ReadASN1(&gt, cbasn1.GeneralizedTime) {
		return nil, malformed("TSTInfo genTime")
	}
	if info.GenTime, err = parseGeneralizedTime(string(gt)); err != nil {
		return nil, err
	}
	if t.PeekASN1Tag(cbasn1.SEQUENCE) {
		var acc cryptobyte.String
		t.ReadASN1(&acc, cbasn1.SEQUENCE)
		if info.Accuracy, err = parseAccuracy(acc); err != nil {
			return nil, err
		}
	}
	if t.PeekASN1Tag(cbasn1.BOOLEAN) {
		var b cryptobyte.String
		if !t.ReadASN1(&b, cbasn1.BOOLEAN) || len(b) != 1 || b[0] != 0xff {
			return nil, malformed("TSTInfo ordering (FALSE must be omitted)")
		}
		info.Ordering = true
	}
	if t.PeekASN1Tag(cbasn1.INTEGER) {
		info.Nonce = new(big.Int)
		if !t.ReadASN1Integer(info.Nonce) {
			return nil, malformed("TSTInfo nonce")
		}
	}
	if t.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()) {
		var name cryptobyte.String
		if !t.ReadASN1(&name, cbasn1.Tag(0).ContextSpecific().Constructed()) {
			return nil, malformed("TSTInfo tsa")
		}
		rest := name
		var gn cryptobyte.String
		var tag cbasn1.Tag
		if !rest.ReadAnyASN1Element(&gn, &tag) || !rest.Empty() || tag&0xc0 != 0x80 {
			return nil, malformed("TSTInfo tsa must hold exactly one GeneralName")
		}
		info.TSAName = name
	}
	if t.PeekASN1Tag(cbasn1.Tag(1).ContextSpecific().Constructed()) {
		return nil, malformed("TSTInfo extensions are not part of this profile")
	}
	if !t.Empty() {
		return nil, malformed("TSTInfo has trailing fields")
	}
	return info, nil
}

// parseGeneralizedTime parses a DER GeneralizedTime (X.690 §11.7):
// exactly YYYYMMDDHHMMSS[.f]Z in ASCII digits, UTC, seconds present, and a
// fraction of 1 to 9 digits only when non-zero, with no trailing zero. The
// fields must name a real instant (no month 13, 30 February or second 60).
func parseGeneralizedTime(s string) (time.Time, error) {
	bad := malformed("genTime %q is not a DER GeneralizedTime", s)
	if len(s) < 15 || len(s) > 25 || s[len(s)-1] != 'Z' {
		return time.Time{}, bad
	}
	body := s[:len(s)-1]
	digits := func(d string) (int, bool) {
		n := 0
		for i := 0; i < len(d); i++ {
			if d[i] < '0' || d[i] > '9' {
				return 0, false
			}
			n = n*10 + int(d[i]-'0')
		}
		return n, true
	}
	var f [6]int // year, month, day, hour, minute, second
	for i, w := range [6][2]int{{0, 4}, {4, 6}, {6, 8}, {8, 10}, {10, 12}, {12, 14}} {
		v, ok := digits(body[w[0]:w[1]])
		if !ok {
			return time.Time{}, bad
		}
		f[i] = v
	}
	nanos := 0
	if len(body) > 14 {
		frac := body[15:]
		if body[14] != '.' || len(frac) == 0 || len(frac) > 9 || frac[len(frac)-1] == '0' {
			return time.Time{}, bad
		}
		v, ok := digits(frac)
		if !ok {
			return time.Time{}, bad
		}
		for range 9 - len(frac) {
			v *= 10
		}
		nanos = v
	}
	if f[1] < 1 || f[1] > 12 || f[2] < 1 || f[3] > 23 || f[4] > 59 || f[5] > 59 {
		return time.Time{}, bad
	}
	t := time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], nanos, time.UTC)
	if t.Day() != f[2] { // normalised: the day does not exist in that month
		return time.Time{}, bad
	}
	return t, nil
}

func parseAccuracy(acc cryptobyte.String) (time.Duration, error) {
	var d time.Duration
	if acc.PeekASN1Tag(cbasn1.INTEGER) {
		var s int64
		if !acc.ReadASN1Integer(&s) || s < 0 || s > 1<<20 {
			return 0, malformed("accuracy seconds")
		}
		d += time.Duration(s) * time.Second
	}
	for i, unit := range []time.Duration{time.Millisecond, time.Microsecond} {
		tag := cbasn1.Tag(i).ContextSpecific()
		if acc.PeekASN1Tag(tag) {
			var v cryptobyte.String
			if !acc.ReadASN1(&v, tag) || len(v) == 0 || len(v) > 2 {
				return 0, malformed("accuracy field")
			}
			n := new(big.Int).SetBytes(v).Int64()
			if v[0]&0x80 != 0 || n < 1 || n > 999 || (len(v) == 2 && v[0] == 0 && v[1]&0x80 == 0) {
				return 0, malformed("accuracy field out of range 1..999")
			}
			d += time.Duration(n) * unit
		}
	}
	if !acc.Empty() {
		return 0, malformed("accuracy has trailing fields")
	}
	return d, nil
}
