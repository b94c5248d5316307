package mldsa

import (
	"crypto/rand"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

// TestReplacementShareSigns rebuilds party 1's share of a 3-of-5 key from
// three helpers and signs with it (verified by circl).
func TestReplacementShareSigns(t *testing.T) {
	pk, shares, err := GenerateKey(rand.Reader, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	target := 1
	var secrets []SubsetSecret
	for _, h := range []int{0, 2, 4} {
		s, err := shares[h].SubsetSecretsFor(target)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, s...)
	}
	ks, err := AssembleShare(pk, 3, 5, target, secrets)
	if err != nil {
		t.Fatal(err)
	}
	shares[target] = ks
	sig, _ := sign(t, pk, shares, []int{0, 1, 3}, []byte("replaced"), nil)
	var cpk mldsa65.PublicKey
	if err := cpk.UnmarshalBinary(pk.Bytes()); err != nil {
		t.Fatal(err)
	}
	if !mldsa65.Verify(&cpk, []byte("replaced"), nil, sig) {
		t.Fatal("circl rejects a signature made with the replacement share")
	}
	// A helper that lies about a subset it shares with another helper is caught.
	bad := append([]SubsetSecret(nil), secrets...)
	for i := range bad {
		if bad[i].Mask&1 != 0 && bad[i].Mask&(1<<2) != 0 {
			c := append([]byte(nil), bad[i].Secret...)
			c[0] ^= 1
			bad = append(bad, SubsetSecret{Mask: bad[i].Mask, Secret: c})
			break
		}
	}
	if _, err := AssembleShare(pk, 3, 5, target, bad); err == nil {
		t.Fatal("disagreeing helpers not detected")
	}
	// Missing subsets are refused.
	if _, err := AssembleShare(pk, 3, 5, target, secrets[:1]); err == nil {
		t.Fatal("incomplete share accepted")
	}
	if _, err := shares[0].SubsetSecretsFor(0); err == nil {
		t.Fatal("secrets for itself handed out")
	}
}
