package schnorr

import (
	"crypto/rand"
	"testing"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/transcript"
)

func TestProveVerify(t *testing.T) {
	x, _ := p384.NewScalar().RandomNonZero(rand.Reader)
	X := p384.BaseMul(x)
	ctx := transcript.Context{Sender: 1, Round: 2}
	pi, err := Prove(rand.Reader, "t", &ctx, x, X)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify("t", &ctx, X, pi); err != nil {
		t.Fatal(err)
	}
	other := ctx
	other.Sender = 2
	if Verify("t", &other, X, pi) == nil {
		t.Fatal("proof not bound to sender")
	}
	if Verify("u", &ctx, X, pi) == nil {
		t.Fatal("proof not bound to purpose")
	}
	if Verify("t", &ctx, p384.Generator(), pi) == nil {
		t.Fatal("proof verifies for another point")
	}
	for i := 0; i < Size; i += 7 {
		bad := append([]byte(nil), pi...)
		bad[i] ^= 0x10
		if Verify("t", &ctx, X, bad) == nil {
			t.Fatalf("tampered byte %d accepted", i)
		}
	}
	if Verify("t", &ctx, X, pi[:Size-1]) == nil {
		t.Fatal("short proof accepted")
	}
}
