package tsverify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"slices"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Options say what to check a token against.
type Options struct {
	// Roots are the trust anchors: an ECDSA root for the classical chain and
	// an ML-DSA-65 root for the post-quantum chain (the contents of ca.pem).
	Roots []*x509.Certificate
	// Certs are further untrusted certificates to build chains from, for
	// tokens issued without certReq.
	Certs []*x509.Certificate
	// PinnedECDSA and PinnedMLDSA, when set, are the only acceptable signer
	// certificates, and no chain is built. The wrapper uses this to check
	// each token before release.
	PinnedECDSA, PinnedMLDSA *x509.Certificate

	// Data, when non-nil, is the time-stamped data: its hash under the
	// token's algorithm must equal the imprint. Digest, when non-nil, is
	// compared with the imprint directly.
	Data   []byte
	Digest []byte
	// Nonce, when non-nil, must equal the token's nonce.
	Nonce *big.Int
	// ClassicalOnly accepts a token under the hybrid policy whose ML-DSA-65
	// half is absent, on the strength of its ECDSA P-384 signature alone.
	// Such a token has no post-quantum protection: whoever can forge ECDSA
	// P-384 (a quantum adversary, or a break of the threshold ECDSA) can
	// forge it. A present ML-DSA-65 half is still verified, and the binding
	// still checked.
	ClassicalOnly bool
	// PQOnly accepts the ML-DSA-65 token of a hybrid-policy token on its own
	// (as extracted from the outer token), on the strength of ML-DSA-65
	// alone: it gives up the classical half, the hedge against a break of
	// ML-DSA-65.
	PQOnly bool
	// RequirePQ is kept for compatibility: the ML-DSA-65 half is required
	// by default. Setting it together with ClassicalOnly is an error.
	//
	// Deprecated: it is the default; leave it unset.
	RequirePQ bool
}

// Result describes a verified token.
type Result struct {
	Info *Info
	// ECDSA reports a verified outer ECDSA P-384 signature; MLDSA a verified
	// ML-DSA-65 signature (inner token, or the whole token for the
	// ML-DSA-only policy).
	ECDSA, MLDSA   bool
	ECDSASigner    *x509.Certificate
	MLDSASigner    *x509.Certificate
	InnerToken     []byte // DER ContentInfo of the ML-DSA token, if any
	ImprintChecked bool
	// Policy is the token's policy.
	Policy Policy
	// ClassicalOnly reports a hybrid-policy token accepted without its
	// ML-DSA-65 half because Options.ClassicalOnly was set: it has no
	// post-quantum protection.
	ClassicalOnly bool
	// PQOnly reports a hybrid-policy ML-DSA-65 token accepted without its
	// ECDSA half because Options.PQOnly was set.
	PQOnly bool
}

// StatusError reports a TimeStampResp whose status is not granted.
type StatusError struct {
	Status     int
	FailInfo   []int // PKIFailureInfo bit numbers set
	StatusText []string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("tsverify: TSA refused the request: status %d, failInfo bits %v, %q", e.Status, e.FailInfo, e.StatusText)
}

// ParseResponse parses a DER TimeStampResp. It returns the token, or a
// *StatusError when the TSA did not grant the request.
func ParseResponse(der []byte) ([]byte, error) {
	if len(der) > MaxTokenSize {
		return nil, malformed("response of %d bytes exceeds %d", len(der), MaxTokenSize)
	}
	in := cryptobyte.String(der)
	var resp, status cryptobyte.String
	if !in.ReadASN1(&resp, cbasn1.SEQUENCE) || !in.Empty() || !resp.ReadASN1(&status, cbasn1.SEQUENCE) {
		return nil, malformed("not a DER TimeStampResp")
	}
	var st int64
	if !status.ReadASN1Integer(&st) {
		return nil, malformed("PKIStatus")
	}
	se := &StatusError{Status: int(st)}
	if status.PeekASN1Tag(cbasn1.SEQUENCE) {
		var texts cryptobyte.String
		status.ReadASN1(&texts, cbasn1.SEQUENCE)
		for !texts.Empty() {
			var t cryptobyte.String
			if !texts.ReadASN1(&t, cbasn1.UTF8String) {
				return nil, malformed("PKIFreeText")
			}
			se.StatusText = append(se.StatusText, string(t))
		}
	}
	if status.PeekASN1Tag(cbasn1.BIT_STRING) {
		var bits asn1.BitString
		if !status.ReadASN1BitString(&bits) {
			return nil, malformed("PKIFailureInfo")
		}
		for i := 0; i < bits.BitLength; i++ {
			if bits.At(i) == 1 {
				se.FailInfo = append(se.FailInfo, i)
			}
		}
	}
	if !status.Empty() {
		return nil, malformed("PKIStatusInfo has trailing fields")
	}
	if st != 0 && st != 1 {
		if !resp.Empty() {
			return nil, malformed("refusal carries a token")
		}
		return nil, se
	}
	var token cryptobyte.String
	if !resp.ReadASN1Element(&token, cbasn1.SEQUENCE) || !resp.Empty() {
		return nil, malformed("granted response without a single token")
	}
	return token, nil
}

// VerifyResponse parses a TimeStampResp and verifies its token.
func VerifyResponse(der []byte, opts *Options) (*Result, error) {
	token, err := ParseResponse(der)
	if err != nil {
		return nil, err
	}
	return VerifyToken(token, opts)
}

// VerifyToken verifies a DER ContentInfo time-stamp token: a hybrid token
// (ECDSA P-384 outer signature carrying an ML-DSA-65 token) or an
// ML-DSA-65-only token.
func VerifyToken(token []byte, opts *Options) (*Result, error) {
	sd, err := parseContentInfo(token)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(sd.eContentType, tst.OIDTSTInfo) {
		return nil, malformed("encapsulated content is not a TSTInfo")
	}
	info, err := ParseTSTInfo(sd.eContent)
	if err != nil {
		return nil, err
	}
	if opts.RequirePQ && opts.ClassicalOnly {
		return nil, errors.New("tsverify: RequirePQ and ClassicalOnly contradict each other")
	}
	res := &Result{Info: info, Policy: policyOf(info.Policy)}
	if res.Policy == 0 {
		return nil, &PolicyError{Policy: dottedOID(info.Policy), Err: ErrUnknownPolicy,
			Detail: "this TSA issues " + PolicyHybrid.String() + " and " + PolicyMLDSA.String()}
	}
	switch {
	case bytes.Equal(sd.signer.sigAlg, tst.OIDECDSAWithSHA384):
		if err := verifyECDSA(sd, info, opts, res); err != nil {
			return nil, err
		}
	case bytes.Equal(sd.signer.sigAlg, tst.OIDMLDSA65):
		if err := verifyMLDSA(sd, info, opts, res); err != nil {
			return nil, err
		}
		res.InnerToken = token
	default:
		return nil, fmt.Errorf("tsverify: unsupported signature algorithm %x", sd.signer.sigAlg)
	}
	if err := checkPolicy(res, opts); err != nil {
		return nil, err
	}
	for _, c := range []*x509.Certificate{res.ECDSASigner, res.MLDSASigner} {
		if c != nil {
			if err := checkTSAName(info, c); err != nil {
				return nil, err
			}
		}
	}
	if err := checkImprint(info, opts, res); err != nil {
		return nil, err
	}
	if opts.Nonce != nil && (info.Nonce == nil || info.Nonce.Cmp(opts.Nonce) != 0) {
		return nil, fmt.Errorf("tsverify: nonce mismatch: token has %v, want %v", info.Nonce, opts.Nonce)
	}
	return res, nil
}

func verifyECDSA(sd *signedData, info *Info, opts *Options, res *Result) error {
	si := &sd.signer
	if si.version != 1 || si.issuer == nil {
		return errors.New("tsverify: ECDSA SignerInfo must use issuerAndSerialNumber")
	}
	if !bytes.Equal(si.digestAlg, tst.OIDSHA384) || si.sigParams {
		return errors.New("tsverify: ECDSA SignerInfo must use SHA-384 with ecdsa-with-SHA384")
	}
	if err := checkCommonAttrs(si, sd.eContent, tst.OIDSHA384, sha512.New384()); err != nil {
		return fmt.Errorf("tsverify: ECDSA SignerInfo: %w", err)
	}
	cert, err := findSigner(si, sd.certs, opts.Certs, opts.PinnedECDSA)
	if err != nil {
		return fmt.Errorf("tsverify: ECDSA signer: %w", err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P384() {
		return errors.New("tsverify: ECDSA signer certificate does not hold a P-384 key")
	}
	if err := checkESS(si, cert); err != nil {
		return fmt.Errorf("tsverify: ECDSA SignerInfo: %w", err)
	}
	d := sha512.Sum384(si.signedAttrs)
	if !ecdsa.VerifyASN1(pub, d[:], si.signature) {
		return errors.New("tsverify: ECDSA P-384 signature does not verify")
	}
	res.ECDSA, res.ECDSASigner = true, cert
	if opts.PinnedECDSA == nil {
		if err := verifyECDSAChain(cert, sd.certs, opts, info); err != nil {
			return err
		}
	}

	// The post-quantum half and its binding.
	boundHash, hasHash := si.attrs[string(tst.OIDPQTokenHash)]
	innerVal, hasInner := si.unsigned[string(tst.OIDPQToken)]
	switch {
	case !hasHash && !hasInner:
		return nil // the ECDSA half alone: checkPolicy decides
	case hasHash && !hasInner:
		return errors.New("tsverify: the signed attributes commit to an ML-DSA token that has been removed")
	case !hasHash && hasInner:
		return errors.New("tsverify: ML-DSA token present but not bound by the ECDSA signature")
	}
	var h cryptobyte.String
	in := cryptobyte.String(boundHash)
	if !in.ReadASN1(&h, cbasn1.OCTET_STRING) || !in.Empty() || len(h) != 64 {
		return malformed("id-aa-ccTsaPqTokenHash value")
	}
	got := sha512.Sum512(innerVal)
	if !bytes.Equal(h, got[:]) {
		return errors.New("tsverify: ML-DSA token does not match the hash the ECDSA signature binds")
	}
	inner, err := parseContentInfo(innerVal)
	if err != nil {
		return fmt.Errorf("tsverify: inner token: %w", err)
	}
	if !bytes.Equal(inner.eContentType, tst.OIDTSTInfo) || !bytes.Equal(inner.eContent, sd.eContent) {
		return errors.New("tsverify: inner token's TSTInfo differs from the outer TSTInfo")
	}
	if !bytes.Equal(inner.signer.sigAlg, tst.OIDMLDSA65) {
		return errors.New("tsverify: inner token is not signed with ML-DSA-65")
	}
	if err := verifyMLDSA(inner, info, opts, res); err != nil {
		return fmt.Errorf("inner token: %w", err)
	}
	res.InnerToken = bytes.Clone(innerVal)
	return nil
}

func verifyMLDSA(sd *signedData, info *Info, opts *Options, res *Result) error {
	si := &sd.signer
	if !bytes.Equal(si.digestAlg, tst.OIDSHA512) || si.sigParams {
		return errors.New("tsverify: ML-DSA SignerInfo must use SHA-512 and id-ml-dsa-65 without parameters")
	}
	if err := checkCommonAttrs(si, sd.eContent, tst.OIDSHA512, sha512.New()); err != nil {
		return fmt.Errorf("tsverify: ML-DSA SignerInfo: %w", err)
	}
	cert, err := findSigner(si, sd.certs, opts.Certs, opts.PinnedMLDSA)
	if err != nil {
		return fmt.Errorf("tsverify: ML-DSA signer: %w", err)
	}
	pk, err := MLDSAPublicKey(cert)
	if err != nil {
		return fmt.Errorf("tsverify: ML-DSA signer certificate: %w", err)
	}
	if err := checkESS(si, cert); err != nil {
		return fmt.Errorf("tsverify: ML-DSA SignerInfo: %w", err)
	}
	if !mldsa65.Verify(pk, si.signedAttrs, nil, si.signature) {
		return errors.New("tsverify: ML-DSA-65 signature does not verify")
	}
	res.MLDSA, res.MLDSASigner = true, cert
	if opts.PinnedMLDSA == nil {
		if err := verifyMLDSAChain(cert, opts, info); err != nil {
			return err
		}
	}
	return nil
}

// checkCommonAttrs checks contentType, messageDigest and, when present,
// CMSAlgorithmProtection.
func checkCommonAttrs(si *signerInfo, eContent, digestOID []byte, h hash.Hash) error {
	ct, ok := si.attrs[string(tst.OIDContentType)]
	if !ok || !bytes.Equal(ct, tst.OIDTSTInfo) {
		return errors.New("contentType attribute missing or not id-ct-TSTInfo")
	}
	md, ok := si.attrs[string(tst.OIDMessageDigest)]
	if !ok {
		return errors.New("messageDigest attribute missing")
	}
	in := cryptobyte.String(md)
	var d cryptobyte.String
	if !in.ReadASN1(&d, cbasn1.OCTET_STRING) || !in.Empty() {
		return malformed("messageDigest value")
	}
	h.Write(eContent)
	if !bytes.Equal(d, h.Sum(nil)) {
		return errors.New("messageDigest does not match the TSTInfo")
	}
	if ap, ok := si.attrs[string(tst.OIDAlgProtection)]; ok {
		in := cryptobyte.String(ap)
		var seq, dAlg, sAlg, dOID, sOID cryptobyte.String
		if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() || !seq.ReadASN1(&dAlg, cbasn1.SEQUENCE) ||
			!dAlg.ReadASN1Element(&dOID, cbasn1.OBJECT_IDENTIFIER) ||
			!seq.ReadASN1(&sAlg, cbasn1.Tag(1).ContextSpecific().Constructed()) ||
			!sAlg.ReadASN1Element(&sOID, cbasn1.OBJECT_IDENTIFIER) || !seq.Empty() {
			return malformed("CMSAlgorithmProtection")
		}
		if !bytes.Equal(dOID, digestOID) || !bytes.Equal(sOID, si.sigAlg) {
			return errors.New("CMSAlgorithmProtection does not match the algorithms used")
		}
	}
	return nil
}

// checkESS checks that the signingCertificateV2 attribute names cert.
func checkESS(si *signerInfo, cert *x509.Certificate) error {
	v, ok := si.attrs[string(tst.OIDSigningCertV2)]
	if !ok {
		return errors.New("signingCertificateV2 attribute missing")
	}
	in := cryptobyte.String(v)
	var sc, certs, id cryptobyte.String
	if !in.ReadASN1(&sc, cbasn1.SEQUENCE) || !in.Empty() || !sc.ReadASN1(&certs, cbasn1.SEQUENCE) ||
		!certs.ReadASN1(&id, cbasn1.SEQUENCE) {
		return malformed("signingCertificateV2")
	}
	h := sha256.New()
	if id.PeekASN1Tag(cbasn1.SEQUENCE) {
		alg, _, err := readAlgorithm(&id)
		if err != nil {
			return fmt.Errorf("signingCertificateV2 hash algorithm: %w", err)
		}
		switch {
		case bytes.Equal(alg, tst.OIDSHA256):
		case bytes.Equal(alg, tst.OIDSHA384):
			h = sha512.New384()
		case bytes.Equal(alg, tst.OIDSHA512):
			h = sha512.New()
		case bytes.Equal(alg, tst.OIDSHA3_512):
			h = sha3.New512()
		default:
			return errors.New("signingCertificateV2: unsupported hash algorithm")
		}
	}
	var certHash cryptobyte.String
	if !id.ReadASN1(&certHash, cbasn1.OCTET_STRING) {
		return malformed("signingCertificateV2 certHash")
	}
	h.Write(cert.Raw)
	if !bytes.Equal(certHash, h.Sum(nil)) {
		return errors.New("signingCertificateV2 does not name the signer's certificate")
	}
	if id.PeekASN1Tag(cbasn1.SEQUENCE) {
		var is, names, dn cryptobyte.String
		serial := new(big.Int)
		if !id.ReadASN1(&is, cbasn1.SEQUENCE) || !is.ReadASN1(&names, cbasn1.SEQUENCE) ||
			!names.ReadASN1(&dn, cbasn1.Tag(4).ContextSpecific().Constructed()) || !names.Empty() ||
			!is.ReadASN1Integer(serial) || !is.Empty() {
			return malformed("signingCertificateV2 issuerSerial")
		}
		if !bytes.Equal(dn, cert.RawIssuer) || serial.Cmp(cert.SerialNumber) != 0 {
			return errors.New("signingCertificateV2 issuerSerial does not match the signer's certificate")
		}
	}
	if !id.Empty() {
		return malformed("ESSCertIDv2 has trailing fields")
	}
	return nil
}

// findSigner returns the certificate that the SignerInfo identifies, from
// the pinned certificate if given, else from the token's and the caller's
// certificates.
func findSigner(si *signerInfo, tokenCerts [][]byte, extra []*x509.Certificate, pinned *x509.Certificate) (*x509.Certificate, error) {
	matches := func(c *x509.Certificate) bool {
		if si.issuer != nil {
			return bytes.Equal(c.RawIssuer, si.issuer) && c.SerialNumber.Cmp(si.serial) == 0
		}
		return bytes.Equal(c.SubjectKeyId, si.keyID)
	}
	if pinned != nil {
		if !matches(pinned) {
			return nil, errors.New("signer identifier does not name the pinned certificate")
		}
		return pinned, nil
	}
	for _, der := range tokenCerts {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("certificate in token: %w", err)
		}
		if matches(c) {
			return c, nil
		}
	}
	for _, c := range extra {
		if matches(c) {
			return c, nil
		}
	}
	return nil, errors.New("signer certificate not found in the token or the given certificates (a token issued without certReq needs the TSA certificates, e.g. verify --certs tsa-ecdsa.pem --certs tsa-mldsa.pem)")
}

// checkTSACert applies RFC 3161 §2.3 to a TSA certificate: the only
// extended key usage is id-kp-timeStamping, marked critical.
func checkTSACert(c *x509.Certificate) error {
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(c.UnknownExtKeyUsage) != 0 {
		return errors.New("TSA certificate must have id-kp-timeStamping as its only extended key usage")
	}
	oidEKU := asn1.ObjectIdentifier{2, 5, 29, 37}
	for _, e := range c.Extensions {
		if e.Id.Equal(oidEKU) && !e.Critical {
			return errors.New("TSA certificate's extended key usage is not critical")
		}
	}
	if c.KeyUsage != 0 && c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return errors.New("TSA certificate's key usage allows no signatures")
	}
	return nil
}

func verifyECDSAChain(cert *x509.Certificate, tokenCerts [][]byte, opts *Options, info *Info) error {
	if err := checkTSACert(cert); err != nil {
		return fmt.Errorf("tsverify: ECDSA %w", err)
	}
	roots := x509.NewCertPool()
	n := 0
	for _, r := range opts.Roots {
		if _, ok := r.PublicKey.(*ecdsa.PublicKey); ok {
			roots.AddCert(r)
			n++
		}
	}
	if n == 0 {
		return errors.New("tsverify: no ECDSA trust anchor given")
	}
	inter := x509.NewCertPool()
	for _, der := range tokenCerts {
		if c, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(c)
		}
	}
	for _, c := range opts.Certs {
		inter.AddCert(c)
	}
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   info.GenTime,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	})
	if errors.As(err, new(x509.UnhandledCriticalExtension)) {
		return fmt.Errorf("tsverify: ECDSA certificate chain: %w: %w", ErrUnhandledCriticalExtension, err)
	}
	if err != nil {
		return fmt.Errorf("tsverify: ECDSA certificate chain: %w", err)
	}
	return nil
}

// ErrUnhandledCriticalExtension is wrapped by the error about a certificate
// carrying a critical extension that the chain check does not process
// (RFC 5280 §4.2), on either chain.
var ErrUnhandledCriticalExtension = errors.New("unhandled critical certificate extension")

// ErrTSAName is wrapped by the error about a TSTInfo whose tsa field does
// not name the signer.
var ErrTSAName = errors.New("TSTInfo tsa does not name the signer")

// oidMLDSA65 is id-ml-dsa-65 for encoding/asn1 comparisons.
var oidMLDSA65 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 18}

type spki struct {
	Algorithm struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	PublicKey asn1.BitString
}

// MLDSAPublicKey extracts an ML-DSA-65 public key (RFC 9881) from cert.
func MLDSAPublicKey(c *x509.Certificate) (*mldsa65.PublicKey, error) {
	var k spki
	rest, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &k)
	if err != nil || len(rest) != 0 {
		return nil, malformed("subjectPublicKeyInfo")
	}
	if !k.Algorithm.Algorithm.Equal(oidMLDSA65) || len(k.Algorithm.Parameters.FullBytes) != 0 {
		return nil, errors.New("public key is not id-ml-dsa-65 (parameters must be absent)")
	}
	if k.PublicKey.BitLength != 8*mldsa65.PublicKeySize {
		return nil, errors.New("ML-DSA-65 public key has the wrong length")
	}
	var pk mldsa65.PublicKey
	if err := pk.UnmarshalBinary(k.PublicKey.Bytes); err != nil {
		return nil, fmt.Errorf("ML-DSA-65 public key: %w", err)
	}
	return &pk, nil
}

// certSignatureAlgorithm returns the signatureAlgorithm OID of a
// certificate and checks that its parameters are absent.
func certSignatureAlgorithm(c *x509.Certificate) (asn1.ObjectIdentifier, error) {
	var cert struct {
		TBS    asn1.RawValue
		SigAlg struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue `asn1:"optional"`
		}
		Sig asn1.BitString
	}
	if rest, err := asn1.Unmarshal(c.Raw, &cert); err != nil || len(rest) != 0 {
		return nil, malformed("certificate")
	}
	if len(cert.SigAlg.Parameters.FullBytes) != 0 {
		return nil, errors.New("ML-DSA signature algorithm must have absent parameters")
	}
	return cert.SigAlg.Algorithm, nil
}

// mldsaChainHandles reports whether the ML-DSA chain check processes the
// certificate extension id: basic constraints, key usage and extended key
// usage are checked; key identifiers and subject alternative names impose
// nothing on a chain of two. Anything else (name constraints, certificate
// policies, policy constraints, unknown extensions) it does not process.
func mldsaChainHandles(id asn1.ObjectIdentifier) bool {
	if len(id) != 4 || id[0] != 2 || id[1] != 5 || id[2] != 29 {
		return false
	}
	switch id[3] {
	case 14, // subjectKeyIdentifier
		15, // keyUsage
		17, // subjectAltName
		19, // basicConstraints
		35, // authorityKeyIdentifier
		37: // extKeyUsage
		return true
	}
	return false
}

// checkCriticalExtensions refuses a certificate of the ML-DSA chain that
// carries a critical extension the check does not process (RFC 5280 §4.2),
// as crypto/x509 does on the ECDSA chain.
func checkCriticalExtensions(c *x509.Certificate, role string) error {
	for _, e := range c.Extensions {
		if e.Critical && !mldsaChainHandles(e.Id) {
			return fmt.Errorf("tsverify: ML-DSA %s %q: %w %v", role, c.Subject.String(), ErrUnhandledCriticalExtension, e.Id)
		}
	}
	if len(c.UnhandledCriticalExtensions) > 0 {
		return fmt.Errorf("tsverify: ML-DSA %s %q: %w %v", role, c.Subject.String(), ErrUnhandledCriticalExtension, c.UnhandledCriticalExtensions[0])
	}
	return nil
}

// verifyMLDSAChain checks an ML-DSA-65 TSA certificate against the ML-DSA
// trust anchors: issued directly by an anchor, signed with id-ml-dsa-65,
// valid at genTime, a TSA certificate under RFC 3161 §2.3, and neither
// certificate with a critical extension this check does not process. Go's
// x509 does not know ML-DSA, so this path is done here.
func verifyMLDSAChain(cert *x509.Certificate, opts *Options, info *Info) error {
	if err := checkTSACert(cert); err != nil {
		return fmt.Errorf("tsverify: ML-DSA %w", err)
	}
	if err := checkCriticalExtensions(cert, "TSA certificate"); err != nil {
		return err
	}
	if info.GenTime.Before(cert.NotBefore) || info.GenTime.After(cert.NotAfter) {
		return errors.New("tsverify: ML-DSA TSA certificate is not valid at genTime")
	}
	alg, err := certSignatureAlgorithm(cert)
	if err != nil {
		return fmt.Errorf("tsverify: ML-DSA TSA certificate: %w", err)
	}
	if !alg.Equal(oidMLDSA65) {
		return errors.New("tsverify: ML-DSA TSA certificate is not signed with ML-DSA-65")
	}
	var tried int
	for _, root := range slices.Concat(opts.Roots, opts.Certs) {
		if !bytes.Equal(root.RawSubject, cert.RawIssuer) {
			continue
		}
		pk, err := MLDSAPublicKey(root)
		if err != nil {
			continue
		}
		if !slices.ContainsFunc(opts.Roots, func(r *x509.Certificate) bool { return r.Equal(root) }) {
			continue // only trust anchors may issue the ML-DSA TSA certificate
		}
		tried++
		if !root.IsCA || !root.BasicConstraintsValid || (root.KeyUsage != 0 && root.KeyUsage&x509.KeyUsageCertSign == 0) {
			continue
		}
		if info.GenTime.Before(root.NotBefore) || info.GenTime.After(root.NotAfter) {
			continue
		}
		if mldsa65.Verify(pk, cert.RawTBSCertificate, nil, cert.Signature) {
			return checkCriticalExtensions(root, "trust anchor")
		}
	}
	if tried == 0 {
		return errors.New("tsverify: no ML-DSA-65 trust anchor issued the ML-DSA TSA certificate")
	}
	return errors.New("tsverify: ML-DSA TSA certificate does not verify under any ML-DSA-65 trust anchor")
}

// checkTSAName applies RFC 3161 §2.4.2: the tsa field, when present, must
// correspond to a subject name of the signer's certificate. This TSA writes
// a directoryName, its certificates' subject; that Name must equal the
// certificate's subject byte for byte, and other GeneralName forms are
// refused.
func checkTSAName(info *Info, cert *x509.Certificate) error {
	if info.TSAName == nil {
		return nil
	}
	in := cryptobyte.String(info.TSAName)
	var dn cryptobyte.String
	if !in.ReadASN1(&dn, cbasn1.Tag(4).ContextSpecific().Constructed()) || !in.Empty() {
		return fmt.Errorf("tsverify: %w: only a directoryName can name this TSA's signer", ErrTSAName)
	}
	if !bytes.Equal(dn, cert.RawSubject) {
		return fmt.Errorf("tsverify: %w: tsa is not the subject of the signer certificate %q", ErrTSAName, cert.Subject.String())
	}
	return nil
}

// HashFor returns a new hash for the DER OID of an imprint algorithm.
func HashFor(oid []byte) (hash.Hash, error) {
	switch {
	case bytes.Equal(oid, tst.OIDSHA256):
		return sha256.New(), nil
	case bytes.Equal(oid, tst.OIDSHA384):
		return sha512.New384(), nil
	case bytes.Equal(oid, tst.OIDSHA512):
		return sha512.New(), nil
	case bytes.Equal(oid, tst.OIDSHA3_256):
		return sha3.New256(), nil
	case bytes.Equal(oid, tst.OIDSHA3_384):
		return sha3.New384(), nil
	case bytes.Equal(oid, tst.OIDSHA3_512):
		return sha3.New512(), nil
	}
	return nil, fmt.Errorf("tsverify: unsupported imprint hash algorithm %x", oid)
}

func checkImprint(info *Info, opts *Options, res *Result) error {
	if opts.Data != nil {
		h, err := HashFor(info.HashAlg)
		if err != nil {
			return err
		}
		h.Write(opts.Data)
		if !bytes.Equal(h.Sum(nil), info.Imprint) {
			return errors.New("tsverify: message imprint does not match the data")
		}
		res.ImprintChecked = true
	}
	if opts.Digest != nil {
		if !bytes.Equal(opts.Digest, info.Imprint) {
			return errors.New("tsverify: message imprint does not match the digest")
		}
		res.ImprintChecked = true
	}
	return nil
}

// TokenInfo parses the TSTInfo of a token without verifying anything.
func TokenInfo(token []byte) (*Info, error) {
	sd, err := parseContentInfo(token)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(sd.eContentType, tst.OIDTSTInfo) {
		return nil, malformed("encapsulated content is not a TSTInfo")
	}
	return ParseTSTInfo(sd.eContent)
}
