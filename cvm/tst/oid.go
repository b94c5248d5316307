// Package tst encodes, in deterministic DER, what the oracle signs: the
// RFC 3161 TSTInfo, the CMS signed attributes of both SignerInfos and the
// complete RFC 9882 ML-DSA-65 token that the hybrid token carries.
//
// The package only encodes. It never parses ASN.1: its inputs are typed
// fields, and the few opaque DER elements it embeds (certificates and
// issuer names given to the oracle at installation) are checked to be single,
// well-formed DER elements and then copied verbatim.
package tst

import (
	"fmt"
	"math/big"
	"strings"
)

// OIDArc is the project's object identifier arc.
//
// PROVISIONAL: this is RFC 5612's enterprise number for documentation use
// (32473) with sub-arc 3161. The design called for a UUID arc under 2.25
// (2.25.221555338817715202692456338154411319803), but arcs of that size
// break every parser built on Go's encoding/asn1 and crypto/x509, which
// accept arcs below 2^31 only: digitorus/timestamp (and so sigstore) failed
// with "base 128 integer too large" on such tokens, and crypto/x509 refused
// the certificates ("malformed extension OID field"). The project must
// register its own IANA Private Enterprise Number and replace this
// constant; nothing else depends on the value.
const OIDArc = "1.3.6.1.4.1.32473.3161"

// Object identifiers used in tokens, as dotted strings. The DER encodings
// below are derived from these at package initialisation.
const (
	OIDPQTokenStr     = OIDArc + ".1.1" // id-aa-ccTsaPqToken (unsigned attribute)
	OIDPQTokenHashStr = OIDArc + ".1.2" // id-aa-ccTsaPqTokenHash (signed attribute)
	OIDPolicyHybrid   = OIDArc + ".2.1" // hybrid ECDSA P-384 + ML-DSA-65 policy
	OIDPolicyMLDSA    = OIDArc + ".2.2" // ML-DSA-65-only policy
	OIDAttestationExt = OIDArc + ".3.1" // certificate extension: attestation evidence
)

// DER encodings (tag, length and content) of object identifiers.
var (
	OIDSignedData         = mustOID("1.2.840.113549.1.7.2")
	OIDTSTInfo            = mustOID("1.2.840.113549.1.9.16.1.4")
	OIDContentType        = mustOID("1.2.840.113549.1.9.3")
	OIDMessageDigest      = mustOID("1.2.840.113549.1.9.4")
	OIDSigningCertV2      = mustOID("1.2.840.113549.1.9.16.2.47")
	OIDAlgProtection      = mustOID("1.2.840.113549.1.9.52")
	OIDSHA256             = mustOID("2.16.840.1.101.3.4.2.1")
	OIDSHA384             = mustOID("2.16.840.1.101.3.4.2.2")
	OIDSHA512             = mustOID("2.16.840.1.101.3.4.2.3")
	OIDSHA3_256           = mustOID("2.16.840.1.101.3.4.2.8")
	OIDSHA3_384           = mustOID("2.16.840.1.101.3.4.2.9")
	OIDSHA3_512           = mustOID("2.16.840.1.101.3.4.2.10")
	OIDECDSAWithSHA384    = mustOID("1.2.840.10045.4.3.3")
	OIDMLDSA65            = mustOID("2.16.840.1.101.3.4.3.18")
	OIDPQToken            = mustOID(OIDPQTokenStr)
	OIDPQTokenHash        = mustOID(OIDPQTokenHashStr)
	OIDPolicyHybridDER    = mustOID(OIDPolicyHybrid)
	OIDPolicyMLDSAOnlyDER = mustOID(OIDPolicyMLDSA)
)

// EncodeOID returns the DER encoding of the dotted object identifier s. Arcs
// may be arbitrarily large.
func EncodeOID(s string) ([]byte, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("tst: object identifier %q has fewer than two arcs", s)
	}
	arcs := make([]*big.Int, len(parts))
	for i, p := range parts {
		if p == "" || (len(p) > 1 && p[0] == '0') || strings.TrimLeft(p, "0123456789") != "" {
			return nil, fmt.Errorf("tst: object identifier %q: bad arc %q", s, p)
		}
		arcs[i], _ = new(big.Int).SetString(p, 10)
	}
	first, second := arcs[0].Int64(), arcs[1]
	if first > 2 || (first < 2 && second.Cmp(big.NewInt(39)) > 0) {
		return nil, fmt.Errorf("tst: object identifier %q: bad leading arcs", s)
	}
	var content []byte
	head := new(big.Int).Add(big.NewInt(40*first), second)
	for _, a := range append([]*big.Int{head}, arcs[2:]...) {
		content = appendBase128(content, a)
	}
	if len(content) > 127 {
		return nil, fmt.Errorf("tst: object identifier %q too long", s)
	}
	return append([]byte{0x06, byte(len(content))}, content...), nil
}

func appendBase128(b []byte, v *big.Int) []byte {
	if v.Sign() == 0 {
		return append(b, 0)
	}
	var groups []byte
	x := new(big.Int).Set(v)
	mask := big.NewInt(0x7f)
	for x.Sign() > 0 {
		groups = append(groups, byte(new(big.Int).And(x, mask).Int64()))
		x.Rsh(x, 7)
	}
	for i := len(groups) - 1; i >= 0; i-- {
		g := groups[i]
		if i > 0 {
			g |= 0x80
		}
		b = append(b, g)
	}
	return b
}

func mustOID(s string) []byte {
	b, err := EncodeOID(s)
	if err != nil {
		panic(err)
	}
	return b
}
