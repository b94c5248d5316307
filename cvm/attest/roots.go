package attest

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-sev-guest/kds"
	"github.com/google/go-sev-guest/verify/trust"
)

// TrustedRoots is an explicit set of AMD root certificates (ARK, and the
// ASK and ASVK intermediates it signed) per product line, labelled with the
// kind of evidence it can verify. A Verifier never falls back on any other
// roots.
type TrustedRoots struct {
	kind  Kind
	label string
	lines map[string]*trust.ProductCerts
}

// Kind returns KindSEVSNP for AMD's real roots and KindSimulated for the
// fake roots of go-sev-guest's test key chain.
func (r *TrustedRoots) Kind() Kind { return r.kind }

// ProductLines returns the product lines (e.g. "Genoa", "Milan") the roots
// cover, sorted.
func (r *TrustedRoots) ProductLines() []string {
	out := make([]string, 0, len(r.lines))
	for l := range r.lines {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// String describes the roots for logs; simulated roots always say SIMULATED.
func (r *TrustedRoots) String() string {
	return fmt.Sprintf("%s (%s: %s)", r.label, r.kind, strings.Join(r.ProductLines(), ", "))
}

// options returns a fresh go-sev-guest TrustedRoots map, so that no call
// can observe another's state.
func (r *TrustedRoots) options() map[string][]*trust.AMDRootCerts {
	out := make(map[string][]*trust.AMDRootCerts, len(r.lines))
	for line, pc := range r.lines {
		c := *pc
		out[line] = []*trust.AMDRootCerts{{Product: line, ProductLine: line, ProductCerts: &c}}
	}
	return out
}

// AMDRoots returns AMD's real SEV-SNP roots for Milan and Genoa: the ARK,
// ASK and ASVK certificates of AMD's Key Distribution Service that
// go-sev-guest v0.15.0 embeds (verify/trust/ask_ark_*.pem). They are parsed
// afresh on every call. Turin is left out on purpose: its TCB_VERSION has
// another layout, which [TCB] and go-sev-guest v0.15.0's validation do not
// decode.
func AMDRoots() (*TrustedRoots, error) {
	bundles := []struct {
		line       string
		vcek, vlek []byte
	}{
		{"Milan", trust.AskArkMilanVcekBytes, trust.AskArkMilanVlekBytes},
		{"Genoa", trust.AskArkGenoaVcekBytes, trust.AskArkGenoaVlekBytes},
	}
	r := &TrustedRoots{kind: KindSEVSNP, label: "AMD KDS roots embedded in go-sev-guest v0.15.0", lines: map[string]*trust.ProductCerts{}}
	for _, b := range bundles {
		pc, err := parseBundles(b.line, b.vcek, b.vlek)
		if err != nil {
			return nil, err
		}
		r.lines[b.line] = pc
	}
	return r, nil
}

// RootsFromKDSBundles returns real SEV-SNP roots for one product line
// ("Milan" or "Genoa") from AMD KDS cert_chain bundles (two PEM
// certificates each, ASK or ASVK then ARK), e.g. as downloaded from
// https://kdsintf.amd.com/vcek/v1/Milan/cert_chain and
// https://kdsintf.amd.com/vlek/v1/Milan/cert_chain. vlekBundle may be nil if
// VLEK-signed reports are not to be accepted.
func RootsFromKDSBundles(productLine string, vcekBundle, vlekBundle []byte) (*TrustedRoots, error) {
	switch productLine {
	case "Milan", "Genoa":
	default:
		return nil, fmt.Errorf("%w: unknown product line %q", ErrConfig, productLine)
	}
	pc, err := parseBundles(productLine, vcekBundle, vlekBundle)
	if err != nil {
		return nil, err
	}
	return &TrustedRoots{kind: KindSEVSNP, label: "AMD KDS roots from configured bundles", lines: map[string]*trust.ProductCerts{productLine: pc}}, nil
}

// parseBundles parses a VCEK cert_chain bundle (ASK, ARK) and an optional
// VLEK bundle (ASVK, ARK) that must share the ARK.
func parseBundles(line string, vcekBundle, vlekBundle []byte) (*trust.ProductCerts, error) {
	ask, ark, err := parseBundle(vcekBundle)
	if err != nil {
		return nil, fmt.Errorf("%w: %s VCEK bundle: %v", ErrConfig, line, err)
	}
	if err := checkRootPair(line, "SEV-"+line, ask, ark); err != nil {
		return nil, err
	}
	pc := &trust.ProductCerts{Ask: ask, Ark: ark}
	if vlekBundle != nil {
		asvk, ark2, err := parseBundle(vlekBundle)
		if err != nil {
			return nil, fmt.Errorf("%w: %s VLEK bundle: %v", ErrConfig, line, err)
		}
		if !bytes.Equal(ark.Raw, ark2.Raw) {
			return nil, fmt.Errorf("%w: %s VLEK bundle has another ARK", ErrConfig, line)
		}
		if err := checkRootPair(line, "SEV-VLEK-"+line, asvk, ark); err != nil {
			return nil, err
		}
		pc.Asvk = asvk
	}
	return pc, nil
}

// parseBundle parses a KDS cert_chain bundle, tolerating trailing
// whitespace (go-sev-guest's embedded Turin VLEK bundle ends in CRLF CRLF).
func parseBundle(b []byte) (ica, ark *x509.Certificate, err error) {
	icaDER, arkDER, err := kds.ParseProductCertChain(bytes.TrimRight(b, " \t\r\n"))
	if err != nil {
		return nil, nil, err
	}
	if ica, err = x509.ParseCertificate(icaDER); err != nil {
		return nil, nil, err
	}
	if ark, err = x509.ParseCertificate(arkDER); err != nil {
		return nil, nil, err
	}
	return ica, ark, nil
}

// checkRootPair checks names and signatures of an ARK and an intermediate:
// the ARK is self-signed with the product's name and signed the
// intermediate.
func checkRootPair(line, icaCN string, ica, ark *x509.Certificate) error {
	if ark.Subject.CommonName != "ARK-"+line {
		return fmt.Errorf("%w: ARK common name %q, want %q", ErrConfig, ark.Subject.CommonName, "ARK-"+line)
	}
	if ica.Subject.CommonName != icaCN {
		return fmt.Errorf("%w: intermediate common name %q, want %q", ErrConfig, ica.Subject.CommonName, icaCN)
	}
	if err := ark.CheckSignatureFrom(ark); err != nil {
		return fmt.Errorf("%w: %s ARK is not self-signed: %v", ErrConfig, line, err)
	}
	if err := ica.CheckSignatureFrom(ark); err != nil {
		return fmt.Errorf("%w: %s %s not signed by the ARK: %v", ErrConfig, line, icaCN, err)
	}
	return nil
}
