package tsverify_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/wrapper/devca"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify/tsverifytest"
)

// unknownExtension is an extension no verifier knows.
func unknownExtension(t *testing.T, critical bool) devca.Extension {
	t.Helper()
	oid, err := tst.EncodeOID("1.3.6.1.4.1.32473.3161.99.1")
	if err != nil {
		t.Fatal(err)
	}
	return devca.Extension{OID: oid, Critical: critical, Value: []byte{0x05, 0x00}}
}

// RFC 5280 §4.2: a certificate with a critical extension the verifier does
// not process is refused, on the ML-DSA chain as on the ECDSA chain.
func TestUnhandledCriticalExtensionRefused(t *testing.T) {
	data := []byte("time-stamped data")
	check := func(name string, cfg tsverifytest.Config, policy string, shape tsverifytest.Shape, wantOK bool) {
		t.Helper()
		m := newMinter(t, cfg)
		tok := mint(t, m, &tsverifytest.Spec{Shape: shape, Policy: policy, Data: data})
		opts := m.Options()
		opts.Data = data
		_, err := tsverify.VerifyToken(tok, opts)
		switch {
		case wantOK && err != nil:
			t.Fatalf("%s: %v", name, err)
		case !wantOK && !errors.Is(err, tsverify.ErrUnhandledCriticalExtension):
			t.Fatalf("%s: got %v, want ErrUnhandledCriticalExtension", name, err)
		}
	}
	crit, nonCrit := unknownExtension(t, true), unknownExtension(t, false)
	check("non-critical unknown extension on both certificates", tsverifytest.Config{CertExtensions: []devca.Extension{nonCrit}}, "", tsverifytest.Hybrid, true)
	check("critical unknown extension on both certificates", tsverifytest.Config{CertExtensions: []devca.Extension{crit}}, "", tsverifytest.Hybrid, false)
	check("critical unknown extension on the ML-DSA certificate, hybrid", tsverifytest.Config{MLDSACertExtensions: []devca.Extension{crit}}, "", tsverifytest.Hybrid, false)
	check("critical unknown extension on the ML-DSA certificate, ML-DSA-only", tsverifytest.Config{MLDSACertExtensions: []devca.Extension{crit}}, tst.OIDPolicyMLDSA, tsverifytest.MLDSAOnly, false)

	// The ML-DSA trust anchor is held to the same rule. devca cannot put
	// extensions on its roots, so the parsed anchor is given one here.
	m := newMinter(t, tsverifytest.Config{})
	tok := mint(t, m, &tsverifytest.Spec{Shape: tsverifytest.MLDSAOnly, Policy: tst.OIDPolicyMLDSA, Data: data})
	opts := m.Options()
	opts.Data = data
	if _, err := tsverify.VerifyToken(tok, opts); err != nil {
		t.Fatal(err)
	}
	root := *m.Roots[1]
	id := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 3161, 99, 1}
	root.Extensions = append(append([]pkix.Extension(nil), root.Extensions...), pkix.Extension{Id: id, Critical: true, Value: []byte{5, 0}})
	root.UnhandledCriticalExtensions = append(root.UnhandledCriticalExtensions, id)
	opts.Roots = []*x509.Certificate{m.Roots[0], &root}
	if _, err := tsverify.VerifyToken(tok, opts); !errors.Is(err, tsverify.ErrUnhandledCriticalExtension) {
		t.Fatalf("ML-DSA anchor with an unhandled critical extension: %v", err)
	}
}
