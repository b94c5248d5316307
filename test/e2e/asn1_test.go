package e2e

// A small, strict DER toolkit for the tests, written against RFC 3161 and
// RFC 5652 with golang.org/x/crypto/cryptobyte. It deliberately shares no
// code with the project's encoders and parsers.

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"

	encasn1 "encoding/asn1"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers used by the tests, in dotted form.
const (
	oidSHA1      = "1.3.14.3.2.26"
	oidMD5       = "1.2.840.113549.2.5"
	oidSHA256    = "2.16.840.1.101.3.4.2.1"
	oidSHA384    = "2.16.840.1.101.3.4.2.2"
	oidSHA512    = "2.16.840.1.101.3.4.2.3"
	oidSHA3_256  = "2.16.840.1.101.3.4.2.8"
	oidSignedDat = "1.2.840.113549.1.7.2"
	oidTSTInfo   = "1.2.840.113549.1.9.16.1.4"
	oidECDSA384  = "1.2.840.10045.4.3.3"
	oidMLDSA65   = "2.16.840.1.101.3.4.3.18"

	ccArc        = "1.3.6.1.4.1.32473.3161" // provisional, see docs/token-format.md
	oidPQToken   = ccArc + ".1.1"
	policyHybrid = ccArc + ".2.1"
	policyMLDSA  = ccArc + ".2.2"
)

// PKIFailureInfo bit numbers (RFC 3161 §2.4.2).
const (
	badAlg              = 0
	badRequest          = 2
	badDataFormat       = 5
	timeNotAvailable    = 14
	unacceptedPolicy    = 15
	unacceptedExtension = 16
	addInfoNotAvailable = 17
	systemFailure       = 25
)

var failNames = map[int]string{
	badAlg: "badAlg", badRequest: "badRequest", badDataFormat: "badDataFormat",
	timeNotAvailable: "timeNotAvailable", unacceptedPolicy: "unacceptedPolicy",
	unacceptedExtension: "unacceptedExtension", addInfoNotAvailable: "addInfoNotAvailable",
	systemFailure: "systemFailure",
}

// encodeOID returns the content octets of a dotted OBJECT IDENTIFIER; arcs
// may be arbitrarily large (2.25 UUID arcs are 128 bits).
func encodeOID(dotted string) []byte {
	parts := strings.Split(dotted, ".")
	arcs := make([]*big.Int, len(parts))
	for i, p := range parts {
		a, ok := new(big.Int).SetString(p, 10)
		if !ok || a.Sign() < 0 {
			panic("bad OID " + dotted)
		}
		arcs[i] = a
	}
	first := new(big.Int).Mul(arcs[0], big.NewInt(40))
	first.Add(first, arcs[1])
	var out []byte
	for _, a := range append([]*big.Int{first}, arcs[2:]...) {
		var groups []byte
		x := new(big.Int).Set(a)
		for {
			groups = append([]byte{byte(new(big.Int).And(x, big.NewInt(0x7f)).Int64())}, groups...)
			x.Rsh(x, 7)
			if x.Sign() == 0 {
				break
			}
		}
		for i := 0; i < len(groups)-1; i++ {
			groups[i] |= 0x80
		}
		out = append(out, groups...)
	}
	return out
}

// decodeOID turns OBJECT IDENTIFIER content octets into dotted form.
func decodeOID(b []byte) (string, error) {
	if len(b) == 0 || b[len(b)-1]&0x80 != 0 {
		return "", errors.New("truncated OBJECT IDENTIFIER")
	}
	var arcs []string
	v := new(big.Int)
	start := true
	for _, c := range b {
		if start && c == 0x80 {
			return "", errors.New("non-minimal OBJECT IDENTIFIER arc")
		}
		v.Lsh(v, 7).Or(v, big.NewInt(int64(c&0x7f)))
		start = c&0x80 == 0
		if start {
			if arcs == nil {
				switch {
				case v.Cmp(big.NewInt(80)) < 0:
					arcs = append(arcs, fmt.Sprint(v.Int64()/40), fmt.Sprint(v.Int64()%40))
				default:
					arcs = append(arcs, "2", new(big.Int).Sub(v, big.NewInt(80)).String())
				}
			} else {
				arcs = append(arcs, v.String())
			}
			v = new(big.Int)
		}
	}
	return strings.Join(arcs, "."), nil
}

func addOID(b *cryptobyte.Builder, dotted string) {
	b.AddASN1(cbasn1.OBJECT_IDENTIFIER, func(b *cryptobyte.Builder) { b.AddBytes(encodeOID(dotted)) })
}

func readOID(s *cryptobyte.String) (string, bool) {
	var o cryptobyte.String
	if !s.ReadASN1(&o, cbasn1.OBJECT_IDENTIFIER) {
		return "", false
	}
	d, err := decodeOID(o)
	return d, err == nil
}

// tsReq describes a TimeStampReq (RFC 3161 §2.4.1), including invalid ones.
type tsReq struct {
	version    int64
	hashOID    string
	hashParams []byte // DER appended after the OID: nil for absent, {5, 0} for NULL
	imprint    []byte
	policy     string   // "" for absent
	nonce      *big.Int // nil for absent
	certReq    *bool    // nil for absent (DEFAULT FALSE)
	extension  bool     // add one (unknown) extension
}

// der encodes r.
func (r tsReq) der() []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(r.version)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				addOID(b, r.hashOID)
				b.AddBytes(r.hashParams)
			})
			b.AddASN1OctetString(r.imprint)
		})
		if r.policy != "" {
			addOID(b, r.policy)
		}
		if r.nonce != nil {
			b.AddASN1BigInt(r.nonce)
		}
		if r.certReq != nil {
			b.AddASN1Boolean(*r.certReq)
		}
		if r.extension {
			b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					addOID(b, "1.3.6.1.4.1.99999.1")
					b.AddASN1OctetString([]byte{0x05, 0x00})
				})
			})
		}
	})
	return b.BytesOrPanic()
}

// tsResp is a parsed TimeStampResp (RFC 3161 §2.4.2).
type tsResp struct {
	status     int64
	statusText []string
	failInfo   []int // the bits set in failInfo
	hasFail    bool
	token      []byte // the ContentInfo, DER; nil if absent
}

// parseResp parses a DER TimeStampResp strictly: no trailing bytes.
func parseResp(der []byte) (*tsResp, error) {
	in := cryptobyte.String(der)
	var resp, psi cryptobyte.String
	if !in.ReadASN1(&resp, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, errors.New("TimeStampResp: not one DER SEQUENCE")
	}
	if !resp.ReadASN1(&psi, cbasn1.SEQUENCE) {
		return nil, errors.New("TimeStampResp: no PKIStatusInfo")
	}
	r := &tsResp{}
	if !psi.ReadASN1Integer(&r.status) {
		return nil, errors.New("PKIStatusInfo: no status INTEGER")
	}
	if psi.PeekASN1Tag(cbasn1.SEQUENCE) {
		var texts cryptobyte.String
		psi.ReadASN1(&texts, cbasn1.SEQUENCE)
		for !texts.Empty() {
			var s cryptobyte.String
			if !texts.ReadASN1(&s, cbasn1.UTF8String) {
				return nil, errors.New("PKIFreeText: not UTF8String")
			}
			r.statusText = append(r.statusText, string(s))
		}
	}
	if psi.PeekASN1Tag(cbasn1.BIT_STRING) {
		var bs encasn1.BitString
		if !psi.ReadASN1BitString(&bs) {
			return nil, errors.New("failInfo: bad BIT STRING")
		}
		r.hasFail = true
		for i := 0; i < bs.BitLength; i++ {
			if bs.At(i) == 1 {
				r.failInfo = append(r.failInfo, i)
			}
		}
	}
	if !psi.Empty() {
		return nil, errors.New("PKIStatusInfo: trailing fields")
	}
	if !resp.Empty() {
		var tok cryptobyte.String
		if !resp.ReadASN1Element(&tok, cbasn1.SEQUENCE) {
			return nil, errors.New("timeStampToken: not a SEQUENCE")
		}
		r.token = tok
	}
	if !resp.Empty() {
		return nil, errors.New("TimeStampResp: trailing fields")
	}
	return r, nil
}

// signedData is the part of a token's SignedData the tests look at.
type signedData struct {
	eContent  []byte // TSTInfo DER
	certs     int    // number of certificates included
	sigAlg    string
	signature []byte
	unsigned  map[string][]byte // attribute type → DER of its single value
}

// parseToken walks ContentInfo → SignedData → the single SignerInfo.
func parseToken(token []byte) (*signedData, error) {
	in := cryptobyte.String(token)
	var ci, content, sd cryptobyte.String
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, errors.New("ContentInfo: not one SEQUENCE")
	}
	if ct, ok := readOID(&ci); !ok || ct != oidSignedDat {
		return nil, errors.New("ContentInfo: not signedData")
	}
	if !ci.ReadASN1(&content, cbasn1.Tag(0).ContextSpecific().Constructed()) || !ci.Empty() ||
		!content.ReadASN1(&sd, cbasn1.SEQUENCE) || !content.Empty() {
		return nil, errors.New("ContentInfo: bad [0] content")
	}
	var version int64
	var digestAlgs, eci, eContentWrap, eContent, signerInfos, si cryptobyte.String
	if !sd.ReadASN1Integer(&version) || !sd.ReadASN1(&digestAlgs, cbasn1.SET) || !sd.ReadASN1(&eci, cbasn1.SEQUENCE) {
		return nil, errors.New("SignedData: bad header")
	}
	if ect, ok := readOID(&eci); !ok || ect != oidTSTInfo {
		return nil, errors.New("encapContentInfo: not id-ct-TSTInfo")
	}
	if !eci.ReadASN1(&eContentWrap, cbasn1.Tag(0).ContextSpecific().Constructed()) || !eci.Empty() ||
		!eContentWrap.ReadASN1(&eContent, cbasn1.OCTET_STRING) || !eContentWrap.Empty() {
		return nil, errors.New("encapContentInfo: bad eContent")
	}
	out := &signedData{eContent: eContent, unsigned: map[string][]byte{}}
	if sd.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()) {
		var certs cryptobyte.String
		sd.ReadASN1(&certs, cbasn1.Tag(0).ContextSpecific().Constructed())
		for !certs.Empty() {
			var c cryptobyte.String
			if !certs.ReadASN1(&c, cbasn1.SEQUENCE) {
				return nil, errors.New("certificates: bad element")
			}
			out.certs++
		}
	}
	if !sd.ReadASN1(&signerInfos, cbasn1.SET) || !sd.Empty() {
		return nil, errors.New("SignedData: bad signerInfos")
	}
	if !signerInfos.ReadASN1(&si, cbasn1.SEQUENCE) || !signerInfos.Empty() {
		return nil, errors.New("signerInfos: want exactly one SignerInfo")
	}
	var siVersion int64
	var sid, digestAlg, sigAlg, sig cryptobyte.String
	var tag cbasn1.Tag
	if !si.ReadASN1Integer(&siVersion) || !si.ReadAnyASN1Element(&sid, &tag) || !si.ReadASN1(&digestAlg, cbasn1.SEQUENCE) ||
		!si.SkipOptionalASN1(cbasn1.Tag(0).ContextSpecific().Constructed()) || !si.ReadASN1(&sigAlg, cbasn1.SEQUENCE) ||
		!si.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return nil, errors.New("SignerInfo: bad fields")
	}
	alg, ok := readOID(&sigAlg)
	if !ok {
		return nil, errors.New("SignerInfo: bad signatureAlgorithm")
	}
	out.sigAlg, out.signature = alg, sig
	if si.PeekASN1Tag(cbasn1.Tag(1).ContextSpecific().Constructed()) {
		var attrs cryptobyte.String
		si.ReadASN1(&attrs, cbasn1.Tag(1).ContextSpecific().Constructed())
		for !attrs.Empty() {
			var a, vals, v cryptobyte.String
			if !attrs.ReadASN1(&a, cbasn1.SEQUENCE) {
				return nil, errors.New("unsignedAttrs: bad Attribute")
			}
			typ, ok := readOID(&a)
			if !ok || !a.ReadASN1(&vals, cbasn1.SET) || !a.Empty() || !vals.ReadAnyASN1Element(&v, &tag) || !vals.Empty() {
				return nil, errors.New("unsignedAttrs: bad Attribute")
			}
			out.unsigned[typ] = v
		}
	}
	if !si.Empty() {
		return nil, errors.New("SignerInfo: trailing fields")
	}
	return out, nil
}

// tstFields is the part of a TSTInfo the tests compare with the request.
type tstFields struct {
	policy   string
	imprint  []byte // DER of the MessageImprint element
	serial   *big.Int
	genTime  time.Time
	accuracy time.Duration // 0 if absent
	nonce    *big.Int
}

// parseTSTInfo reads policy, messageImprint, serialNumber, genTime,
// accuracy and nonce from a TSTInfo.
func parseTSTInfo(der []byte) (*tstFields, error) {
	in := cryptobyte.String(der)
	var t, imprint, genTime cryptobyte.String
	var version int64
	if !in.ReadASN1(&t, cbasn1.SEQUENCE) || !in.Empty() || !t.ReadASN1Integer(&version) || version != 1 {
		return nil, errors.New("TSTInfo: bad header")
	}
	policy, ok := readOID(&t)
	f := &tstFields{policy: policy, serial: new(big.Int)}
	if !ok || !t.ReadASN1Element(&imprint, cbasn1.SEQUENCE) || !t.ReadASN1Integer(f.serial) ||
		!t.ReadASN1(&genTime, cbasn1.GeneralizedTime) {
		return nil, errors.New("TSTInfo: bad fields")
	}
	f.imprint = imprint
	var err error
	if f.genTime, err = parseGeneralizedTime(string(genTime)); err != nil {
		return nil, err
	}
	if t.PeekASN1Tag(cbasn1.SEQUENCE) {
		var acc cryptobyte.String
		t.ReadASN1(&acc, cbasn1.SEQUENCE)
		for _, part := range []struct {
			tag  cbasn1.Tag
			unit time.Duration
		}{{cbasn1.INTEGER, time.Second}, {cbasn1.Tag(0).ContextSpecific(), time.Millisecond}, {cbasn1.Tag(1).ContextSpecific(), time.Microsecond}} {
			var v cryptobyte.String
			var present bool
			if !acc.ReadOptionalASN1(&v, &present, part.tag) {
				return nil, errors.New("TSTInfo: bad accuracy")
			}
			if present {
				n := new(big.Int).SetBytes(v)
				if len(v) == 0 || v[0]&0x80 != 0 || !n.IsInt64() || n.Int64() > 1<<20 {
					return nil, errors.New("TSTInfo: accuracy out of range")
				}
				f.accuracy += time.Duration(n.Int64()) * part.unit
			}
		}
		if !acc.Empty() {
			return nil, errors.New("TSTInfo: trailing accuracy fields")
		}
	}
	t.SkipOptionalASN1(cbasn1.BOOLEAN) // ordering
	if t.PeekASN1Tag(cbasn1.INTEGER) {
		f.nonce = new(big.Int)
		if !t.ReadASN1Integer(f.nonce) {
			return nil, errors.New("TSTInfo: bad nonce")
		}
	}
	return f, nil
}

// reqFields reads messageImprint (DER) and nonce from a TimeStampReq.
func reqFields(der []byte) (*tstFields, error) {
	in := cryptobyte.String(der)
	var r, imprint cryptobyte.String
	var version int64
	if !in.ReadASN1(&r, cbasn1.SEQUENCE) || !in.Empty() || !r.ReadASN1Integer(&version) ||
		!r.ReadASN1Element(&imprint, cbasn1.SEQUENCE) {
		return nil, errors.New("TimeStampReq: bad header")
	}
	f := &tstFields{imprint: imprint}
	if r.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER) {
		f.policy, _ = readOID(&r)
	}
	if r.PeekASN1Tag(cbasn1.INTEGER) {
		f.nonce = new(big.Int)
		if !r.ReadASN1Integer(f.nonce) {
			return nil, errors.New("TimeStampReq: bad nonce")
		}
	}
	return f, nil
}

var genTimeRE = regexp.MustCompile(`^[0-9]{14}(\.[0-9]*[1-9])?Z$`)

// parseGeneralizedTime parses a DER GeneralizedTime as RFC 3161 §2.4.2
// wants it: UTC ("Z"), seconds present, fraction without trailing zeros.
func parseGeneralizedTime(s string) (time.Time, error) {
	if !genTimeRE.MatchString(s) {
		return time.Time{}, fmt.Errorf("genTime %q: not YYYYMMDDHHMMSS[.f]Z", s)
	}
	// Go accepts a fractional second after the seconds field when parsing.
	t, err := time.Parse("20060102150405Z", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("genTime %q: %w", s, err)
	}
	return t, nil
}

// spliceDER returns elem with the element old (found by content inside
// constructed elements) replaced by repl, every enclosing length
// re-encoded. It reports false if old is not an element of elem.
func spliceDER(elem, old, repl []byte) ([]byte, bool) {
	if bytes.Equal(elem, old) {
		return repl, true
	}
	s := cryptobyte.String(elem)
	var content cryptobyte.String
	var tag cbasn1.Tag
	if !s.ReadAnyASN1(&content, &tag) || !s.Empty() || tag&0x20 == 0 {
		return nil, false
	}
	found := false
	var b cryptobyte.Builder
	b.AddASN1(tag, func(b *cryptobyte.Builder) {
		for !content.Empty() {
			var child cryptobyte.String
			var ct cbasn1.Tag
			if !content.ReadAnyASN1Element(&child, &ct) {
				b.SetError(errors.New("spliceDER: bad element"))
				return
			}
			if !found && bytes.Contains(child, old) {
				if nc, ok := spliceDER(child, old, repl); ok {
					b.AddBytes(nc)
					found = true
					continue
				}
			}
			b.AddBytes(child)
		}
	})
	out, err := b.Bytes()
	if err != nil || !found {
		return nil, false
	}
	return out, true
}
