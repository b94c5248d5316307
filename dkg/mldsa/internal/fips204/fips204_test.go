package fips204

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

type acvpFile struct {
	TestGroups []struct {
		TgID          int      `json:"tgId"`
		Deterministic bool     `json:"deterministic"`
		PK            hexBytes `json:"pk"`
		Tests         []struct {
			TcID       int      `json:"tcId"`
			Seed       hexBytes `json:"seed"`
			PK         hexBytes `json:"pk"`
			SK         hexBytes `json:"sk"`
			Message    hexBytes `json:"message"`
			Rnd        hexBytes `json:"rnd"`
			Signature  hexBytes `json:"signature"`
			TestPassed *bool    `json:"testPassed"`
		} `json:"tests"`
	} `json:"testGroups"`
}

func readACVP(t *testing.T, mode string) *acvpFile {
	t.Helper()
	f, err := os.Open("testdata/ML-DSA-65-" + mode + ".json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var v acvpFile
	if err := json.NewDecoder(zr).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if len(v.TestGroups) == 0 {
		t.Fatal("no test groups")
	}
	return &v
}

func TestConstants(t *testing.T) {
	q := big.NewInt(Q)
	r := new(big.Int).Lsh(big.NewInt(1), 32)
	inv := new(big.Int).ModInverse(q, r)
	neg := new(big.Int).Sub(r, inv)
	if neg.Uint64() != qNegInv {
		t.Fatalf("qNegInv = %d, want %d", qNegInv, neg)
	}
	if new(big.Int).Mod(r, q).Uint64() != rModQ {
		t.Fatal("rModQ")
	}
	if new(big.Int).Mod(new(big.Int).Mul(r, r), q).Uint64() != r2ModQ {
		t.Fatal("r2ModQ")
	}
	n := new(big.Int).ModInverse(big.NewInt(N), q)
	if new(big.Int).Mod(n.Mul(n, r), q).Uint64() != nInvMont {
		t.Fatal("nInvMont")
	}
	if PublicKeySize != 1952 || SignatureSize != 3309 || PrivateKeySize != 4032 {
		t.Fatal("sizes")
	}
}

func bitrev8(x int) int {
	r := 0
	for i := 0; i < 8; i++ {
		r = r<<1 | (x>>i)&1
	}
	return r
}

func TestZetas(t *testing.T) {
	q := big.NewInt(Q)
	r := new(big.Int).Lsh(big.NewInt(1), 32)
	for i := 0; i < N; i++ {
		z := new(big.Int).Exp(big.NewInt(1753), big.NewInt(int64(bitrev8(i))), q)
		z.Mul(z, r).Mod(z, q)
		if z.Uint64() != uint64(zetasMont[i]) {
			t.Fatalf("zeta[%d] = %d, want %d", i, zetasMont[i], z)
		}
	}
}

func randPoly(t *testing.T) *Poly {
	var b [4 * N]byte
	rand.Read(b[:])
	p := new(Poly)
	for i := range p {
		p[i] = (uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24) % Q
	}
	return p
}

// TestNTTMul checks NTT-based multiplication against schoolbook
// multiplication in Z_q[X]/(X^256+1) computed with math/big.
func TestNTTMul(t *testing.T) {
	for it := 0; it < 6; it++ {
		a, b := randPoly(t), randPoly(t)
		if it == 0 { // extreme values exercise the lazy-reduction bounds
			for i := range a {
				a[i], b[i] = Q-1, Q-1
			}
		}
		var want [N]int64
		for i := 0; i < N; i++ {
			for j := 0; j < N; j++ {
				p := int64(a[i]) * int64(b[j]) % Q
				if i+j < N {
					want[i+j] = (want[i+j] + p) % Q
				} else {
					want[i+j-N] = (want[i+j-N] - p + Q) % Q
				}
			}
		}
		aa, bb := *a, *b
		aa.NTT()
		bb.NTT()
		bb.ToMont()
		var c Poly
		c.MulMont(&aa, &bb)
		c.InvNTT()
		for i := range c {
			if int64(c[i]) != want[i] {
				t.Fatalf("coefficient %d: got %d want %d", i, c[i], want[i])
			}
		}
		x := *a
		x.NTT()
		x.InvNTT()
		if x != *a {
			t.Fatal("InvNTT(NTT(a)) != a")
		}
	}
}

func TestDecompose(t *testing.T) {
	for r := uint32(0); r < Q; r += 97 {
		for _, v := range []uint32{r, Q - 1 - r%5} {
			r1, r0 := Decompose(v)
			// reference from the definition, with plain arithmetic
			m := int32(v % (2 * Gamma2))
			if m > Gamma2 {
				m -= 2 * Gamma2
			}
			var w1 uint32
			w0 := m
			if int32(v)-m == Q-1 {
				w1, w0 = 0, m-1
			} else {
				w1 = uint32((int32(v) - m) / (2 * Gamma2))
			}
			if r1 != w1 || r0 != w0 {
				t.Fatalf("Decompose(%d) = (%d,%d), want (%d,%d)", v, r1, r0, w1, w0)
			}
			p1, p0 := Power2Round(v)
			if p0 <= -(1<<(D-1)) || p0 > 1<<(D-1) || int64(p1)<<D+int64(p0) != int64(v) {
				t.Fatalf("Power2Round(%d) = (%d,%d)", v, p1, p0)
			}
		}
	}
}

func TestACVPKeyGen(t *testing.T) {
	v := readACVP(t, "keyGen")
	n := 0
	for _, g := range v.TestGroups {
		for _, tc := range g.Tests {
			var xi [32]byte
			copy(xi[:], tc.Seed)
			pk, sk := KeyGenInternal(&xi)
			if !bytes.Equal(pk.Bytes(), tc.PK) {
				t.Fatalf("tc %d: pk mismatch", tc.TcID)
			}
			if !bytes.Equal(sk.Bytes(), tc.SK) {
				t.Fatalf("tc %d: sk mismatch", tc.TcID)
			}
			sk2, err := DecodePrivateKey(tc.SK)
			if err != nil || !bytes.Equal(sk2.Bytes(), tc.SK) {
				t.Fatalf("tc %d: sk round trip: %v", tc.TcID, err)
			}
			n++
		}
	}
	if n != 25 {
		t.Fatalf("ran %d keyGen vectors, want 25", n)
	}
}

func TestACVPSigGen(t *testing.T) {
	v := readACVP(t, "sigGen")
	n := 0
	for _, g := range v.TestGroups {
		for _, tc := range g.Tests {
			sk, err := DecodePrivateKey(tc.SK)
			if err != nil {
				t.Fatal(err)
			}
			var rnd [32]byte
			if !g.Deterministic {
				copy(rnd[:], tc.Rnd)
			}
			mu := ComputeMuInternal(&sk.Tr, tc.Message)
			sig := SignMu(sk, &mu, &rnd)
			if !bytes.Equal(sig, tc.Signature) {
				t.Fatalf("group %d tc %d: signature mismatch", g.TgID, tc.TcID)
			}
			n++
		}
	}
	if n != 20 {
		t.Fatalf("ran %d sigGen vectors, want 20", n)
	}
}

func TestACVPSigVer(t *testing.T) {
	v := readACVP(t, "sigVer")
	n, pass := 0, 0
	for _, g := range v.TestGroups {
		pk, err := DecodePublicKey(g.PK)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range g.Tests {
			if tc.TestPassed == nil {
				t.Fatal("missing expected result")
			}
			mu := ComputeMuInternal(&pk.Tr, tc.Message)
			got := VerifyMu(pk, &mu, tc.Signature)
			if got != *tc.TestPassed {
				t.Fatalf("tc %d: verify = %v, want %v", tc.TcID, got, *tc.TestPassed)
			}
			n++
			if got {
				pass++
			}
		}
	}
	if n != 15 || pass == 0 || pass == n {
		t.Fatalf("ran %d sigVer vectors with %d passing; want 15 with a mix", n, pass)
	}
}

// TestCirclCrossCheck signs with circl and verifies with this package, and
// the reverse, for empty and non-empty contexts.
func TestCirclCrossCheck(t *testing.T) {
	for i := 0; i < 10; i++ {
		var seed [32]byte
		rand.Read(seed[:])
		cpk, csk := mldsa65.NewKeyFromSeed(&seed)
		pk, sk := KeyGenInternal(&seed)
		cpkb, _ := cpk.MarshalBinary()
		if !bytes.Equal(cpkb, pk.Bytes()) {
			t.Fatal("public keys differ from circl")
		}
		msg := make([]byte, i*37)
		rand.Read(msg)
		ctx := make([]byte, i*25)
		rand.Read(ctx)

		csig := make([]byte, mldsa65.SignatureSize)
		if err := mldsa65.SignTo(csk, msg, ctx, true, csig); err != nil {
			t.Fatal(err)
		}
		if !Verify(pk, msg, ctx, csig) {
			t.Fatal("own Verify rejects circl signature")
		}
		if Verify(pk, append(msg, 1), ctx, csig) {
			t.Fatal("own Verify accepts signature on other message")
		}
		var rnd [32]byte
		rand.Read(rnd[:])
		sig, err := Sign(sk, msg, ctx, &rnd)
		if err != nil {
			t.Fatal(err)
		}
		if !mldsa65.Verify(cpk, msg, ctx, sig) {
			t.Fatal("circl rejects own signature")
		}
		sig[len(sig)/2] ^= 1
		if mldsa65.Verify(cpk, msg, ctx, sig) || Verify(pk, msg, ctx, sig) {
			t.Fatal("tampered signature accepted")
		}
	}
	if _, err := ComputeMu(new([64]byte), nil, make([]byte, 256)); err == nil {
		t.Fatal("256-byte context accepted")
	}
}

func TestPackW23(t *testing.T) {
	for it := 0; it < 20; it++ {
		p := randPoly(t)
		if it == 0 {
			for i := range p {
				p[i] = Q - 1
			}
		}
		var b [PolyW23Size]byte
		PackW23(b[:], p)
		var v [N]uint32
		unpackBits(&v, b[:], 23) // generic reference
		var q Poly
		if err := UnpackW23(&q, b[:]); err != nil || q != *p || Poly(v) != *p {
			t.Fatalf("23-bit round trip failed: %v", err)
		}
	}
	var b [PolyW23Size]byte
	for i := range b {
		b[i] = 0xff
	}
	var q Poly
	if err := UnpackW23(&q, b[:]); err != ErrRange {
		t.Fatalf("all-ones accepted: %v", err)
	}
}

// TestNTTKernels checks the dispatched NTT (AVX2 on capable amd64) against
// the portable implementation, including inputs at the top of the range.
func TestNTTKernels(t *testing.T) {
	t.Logf("AVX2 kernels: %v", hasAVX2)
	for it := 0; it < 200; it++ {
		a := randPoly(t)
		switch it {
		case 0:
			for i := range a {
				a[i] = Q - 1
			}
		case 1:
			*a = Poly{}
		}
		x, y := *a, *a
		x.NTT()
		nttGeneric(&y)
		if x != y {
			t.Fatalf("NTT differs from the portable version (input %d)", it)
		}
		x.InvNTT()
		invNTTGeneric(&y)
		if x != y || x != *a {
			t.Fatalf("InvNTT differs from the portable version or does not invert (input %d)", it)
		}
		u, v := *a, *a
		u.InvNTT()
		invNTTGeneric(&v)
		if u != v {
			t.Fatalf("InvNTT of a raw input differs (input %d)", it)
		}
	}
}

// TestPointwiseKernels checks the dispatched pointwise products against the
// portable versions.
func TestPointwiseKernels(t *testing.T) {
	for it := 0; it < 50; it++ {
		var row [L]Poly
		var y VecL
		for k := range row {
			row[k], y[k] = *randPoly(t), *randPoly(t)
			if it == 0 {
				for i := range row[k] {
					row[k][i], y[k][i] = Q-1, Q-1
				}
			}
		}
		var a, b Poly
		a.MulMont(&row[0], &y[0])
		mulMontGeneric(&b, &row[0], &y[0])
		if a != b {
			t.Fatal("MulMont differs from the portable version")
		}
		if hasAVX2 {
			matRowAVX2(&a, &row, &y)
		} else {
			matRowGeneric(&a, &row, &y)
		}
		matRowGeneric(&b, &row, &y)
		if a != b {
			t.Fatal("matrix row product differs from the portable version")
		}
	}
}

// TestLaneZetas rebuilds the per-lane zeta tables of the AVX2 kernels.
func TestLaneZetas(t *testing.T) {
	for it := 0; it < 16; it++ {
		var f, v [24]uint32
		m4, m2, m1 := 32+2*it, 64+4*it, 128+8*it
		for k := 0; k < 4; k++ {
			f[k], f[4+k] = zetasMont[m4], zetasMont[m4+1]
		}
		for k, o := range []int{0, 0, 2, 2, 1, 1, 3, 3} {
			f[8+k] = zetasMont[m2+o]
			v[8+k] = Q - zetasMont[127-(4*it+o)]
		}
		for k, o := range []int{0, 4, 1, 5, 2, 6, 3, 7} {
			f[16+k] = zetasMont[m1+o]
			v[k] = Q - zetasMont[255-(8*it+o)]
		}
		for k := 0; k < 4; k++ {
			v[16+k], v[20+k] = Q-zetasMont[63-2*it], Q-zetasMont[63-(2*it+1)]
		}
		if f != zetasFwdLanes[it] || v != zetasInvLanes[it] {
			t.Fatalf("lane zeta tables differ at chunk %d", it)
		}
	}
}
