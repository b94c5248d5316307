package p384

import (
	"bytes"
	"crypto/elliptic"
	"math/big"
	"testing"

	"filippo.io/nistec"
)

func TestBaseDigitsRecode(t *testing.T) {
	vals := edgeValues()
	for i := 0; i < 300; i++ {
		vals = append(vals, randomBelowN(t))
	}
	for _, v := range vals {
		d := baseDigits((*[ScalarSize]byte)(v))
		sum := new(big.Int)
		for i := baseWindows - 1; i >= 0; i-- {
			if d[i] < -15 || d[i] > 16 {
				t.Fatalf("%x: digit %d out of range", v, d[i])
			}
			sum.Lsh(sum, baseWindowBits)
			sum.Add(sum, big.NewInt(int64(d[i])))
		}
		if sum.Cmp(new(big.Int).SetBytes(v)) != 0 {
			t.Fatalf("%x: digits sum to %x", v, sum)
		}
	}
}

// TestBaseMulMatchesNistec compares the signed-window fixed-base
// multiplication with nistec's ScalarBaseMult and with crypto/elliptic.
func TestBaseMulMatchesNistec(t *testing.T) {
	vals := edgeValues()
	// Scalars whose windows are all 16 (maximal digits, no carries) or all
	// 17 (a carry out of every window), reduced mod n.
	for _, w := range []int64{16, 17, 31, 15} {
		k := new(big.Int)
		for i := 0; i < baseWindows; i++ {
			k.Lsh(k, baseWindowBits)
			k.Add(k, big.NewInt(w))
		}
		k.Mod(k, nBig)
		vals = append(vals, k.FillBytes(make([]byte, ScalarSize)))
	}
	rounds := 300
	if testing.Short() {
		rounds = 30
	}
	for i := 0; i < rounds; i++ {
		vals = append(vals, randomBelowN(t))
	}
	curve := elliptic.P384()
	for i, v := range vals {
		s := mustScalar(t, v)
		got := baseMul(s)
		want, err := nistec.NewP384Point().ScalarBaseMult(v)
		if err != nil {
			t.Fatal(err)
		}
		if got.Equal(want) != 1 {
			t.Fatalf("%x: baseMul differs from ScalarBaseMult", v)
		}
		if i < 20 {
			//lint:ignore SA1019 test oracle only
			x, y := curve.ScalarBaseMult(v)
			if x.Sign() == 0 && y.Sign() == 0 {
				if got.IsInfinity() != 1 {
					t.Fatalf("%x: want the identity", v)
				}
				continue
			}
			//lint:ignore SA1019 test oracle only
			if !bytes.Equal(got.Bytes(), elliptic.Marshal(curve, x, y)) {
				t.Fatalf("%x: baseMul differs from crypto/elliptic", v)
			}
		}
	}
}

func BenchmarkBaseMulNistec(b *testing.B) {
	s := benchScalar()
	cpuBench(b, func() {
		p, _ := nistec.NewP384Point().ScalarBaseMult(s.Bytes())
		_ = p
	})
}

func BenchmarkBaseMulSignedWindow(b *testing.B) {
	s := benchScalar()
	baseTable()
	cpuBench(b, func() { baseMul(s) })
}
