package oracle

import (
	"crypto/ecdsa"
	"crypto/sha512"
	"fmt"
	"math/big"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The whole-key ECDSA signatures are in low-s form, like the threshold
// combiner's: (r, s) and (r, n-s) both verify, and only s <= n/2 is
// released. A random s is high half the time, so 64 signatures would all
// be low by chance with probability 2^-64.
func TestWholeKeyECDSALowS(t *testing.T) {
	k, err := generateWholeKeys()
	if err != nil {
		t.Fatal(err)
	}
	half := new(big.Int).Rsh(k.ecdsa.Curve.Params().N, 1)
	for i := range 64 {
		msg := []byte(fmt.Sprintf("message %d", i))
		sig, err := k.signECDSA(msg)
		if err != nil {
			t.Fatal(err)
		}
		d := sha512.Sum384(msg)
		if !ecdsa.VerifyASN1(&k.ecdsa.PublicKey, d[:], sig) {
			t.Fatal("signature does not verify")
		}
		in := cryptobyte.String(sig)
		var seq cryptobyte.String
		r, s := new(big.Int), new(big.Int)
		if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() || !seq.ReadASN1Integer(r) || !seq.ReadASN1Integer(s) || !seq.Empty() {
			t.Fatalf("not a DER Ecdsa-Sig-Value: %x", sig)
		}
		if s.Cmp(half) > 0 {
			t.Fatalf("signature %d has s > n/2", i)
		}
	}
}
