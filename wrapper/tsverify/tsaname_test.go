package tsverify_test

import (
	"errors"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify/tsverifytest"
)

// RFC 3161 §2.4.2: the tsa field, when present, names the signer.
func TestTSANameMustMatchSigner(t *testing.T) {
	m := newMinter(t, tsverifytest.Config{})
	data := []byte("time-stamped data")
	opts := m.Options()
	opts.Data = data
	other, err := tst.EncodeName([][2]string{{"O", "CC-TSA"}, {"CN", "some other TSA"}})
	if err != nil {
		t.Fatal(err)
	}
	dnsName := []byte{0x82, 0x0b, 't', 's', 'a', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e'}
	for _, policy := range []string{tst.OIDPolicyHybrid, tst.OIDPolicyMLDSA} {
		shape := tsverifytest.Hybrid
		if policy == tst.OIDPolicyMLDSA {
			shape = tsverifytest.MLDSAOnly
		}
		for _, c := range []struct {
			name string
			spec tsverifytest.Spec
			ok   bool
		}{
			{"the signer's subject", tsverifytest.Spec{}, true},
			{"absent", tsverifytest.Spec{OmitTSAName: true}, true},
			{"another directory name", tsverifytest.Spec{TSAName: tsverifytest.DirectoryName(other)}, false},
			{"a dNSName", tsverifytest.Spec{TSAName: dnsName}, false},
		} {
			c.spec.Shape, c.spec.Policy, c.spec.Data = shape, policy, data
			_, err := tsverify.VerifyToken(mint(t, m, &c.spec), opts)
			if c.ok && err != nil {
				t.Fatalf("%s, tsa %s: %v", policy, c.name, err)
			}
			if !c.ok && !errors.Is(err, tsverify.ErrTSAName) {
				t.Fatalf("%s, tsa %s: got %v, want ErrTSAName", policy, c.name, err)
			}
		}
	}
}
