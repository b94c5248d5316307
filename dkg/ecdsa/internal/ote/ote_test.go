package ote

import (
	"crypto/rand"
	"errors"
	"math/big"
	"testing"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/baseot"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/transcript"
)

// dealerSetup stands in for the base OTs (tested in package baseot).
func dealerSetup(t *testing.T) (*SenderSetup, *ReceiverSetup) {
	rs := new(ReceiverSetup)
	ss := new(SenderSetup)
	rand.Read(ss.Delta[:])
	for i := 0; i < Kappa; i++ {
		rand.Read(rs.K0[i][:])
		rand.Read(rs.K1[i][:])
		if ss.Bit(i) == 1 {
			ss.K[i] = rs.K1[i]
		} else {
			ss.K[i] = rs.K0[i]
		}
	}
	return ss, rs
}

func bit(b []byte, i int) byte { return (b[i/8] >> (i % 8)) & 1 }

func TestCorrelation(t *testing.T) {
	ss, rs := dealerSetup(t)
	var sid [32]byte
	rand.Read(sid[:])
	var x [ColBytes]byte
	rand.Read(x[:])
	msg, T, err := Extend(rs, sid, &x)
	if err != nil {
		t.Fatal(err)
	}
	Q, err := Receive(ss, sid, msg)
	if err != nil {
		t.Fatal(err)
	}
	for j := 0; j < Xi; j++ {
		for k := 0; k < RowBytes; k++ {
			want := T[j][k] ^ (ss.Delta[k] & -bit(x[:], j))
			if Q[j][k] != want {
				t.Fatalf("row %d: Q != T xor beta*Delta", j)
			}
		}
	}
	var other [32]byte
	if _, err := Receive(ss, other, msg); !errors.Is(err, ErrCheck) {
		t.Fatal("message accepted under another session id")
	}
}

// cheat builds a receiver message in which column i uses x' instead of x,
// with honestly computed t̃ values.
func cheat(t testing.TB, rs *ReceiverSetup, sid [32]byte, x *[ColBytes]byte, cols []int) []byte {
	msg, _, err := Extend(rs, sid, x)
	if err != nil {
		t.Fatal(err)
	}
	u := msg[:Kappa*ColBytes]
	for _, i := range cols {
		u[i*ColBytes+3] ^= 0x40 // a different choice bit in this column
	}
	c := challenges(&sid, u)
	compress(&c, x[:]).store(msg[Kappa*ColBytes:])
	var t0 [ColBytes]byte
	for i := 0; i < Kappa; i++ {
		// The PRG written out through crypto/sha3, one seed at a time (an
		// independent check of the four-way prg4).
		transcript.New("ote/prg").Bytes(sid[:]).PadBlock().Uint32(uint32(i)).Bytes(rs.K0[i][:]).Read(t0[:])
		compress(&c, t0[:]).store(msg[Kappa*ColBytes+checkSize+i*checkSize:])
	}
	return msg
}

func TestCheatingReceiverCaught(t *testing.T) {
	ss, rs := dealerSetup(t)
	var sid [32]byte
	var x [ColBytes]byte
	rand.Read(x[:])
	all := make([]int, Kappa)
	for i := range all {
		all[i] = i
	}
	if _, err := Receive(ss, sid, cheat(t, rs, sid, &x, all)); !errors.Is(err, ErrCheck) {
		t.Fatal("inconsistent columns not detected")
	}
	// One inconsistent column is detected exactly when Δ_i = 1 (the
	// selective-failure leak that forces a permanent ban).
	for _, i := range []int{0, 1, 2, 3, 100, 255} {
		_, err := Receive(ss, sid, cheat(t, rs, sid, &x, []int{i}))
		if (err != nil) != (ss.Bit(i) == 1) {
			t.Fatalf("column %d: err=%v, Δ_i=%d", i, err, ss.Bit(i))
		}
	}
	// A tampered check value is always caught.
	msg, _, err := Extend(rs, sid, &x)
	if err != nil {
		t.Fatal(err)
	}
	msg[MsgSize-1] ^= 1
	if _, err := Receive(ss, sid, msg); !errors.Is(err, ErrCheck) {
		t.Fatal("tampered t̃ accepted")
	}
	msg[Kappa*ColBytes] ^= 1
	if _, err := Receive(ss, sid, msg); err == nil {
		t.Fatal("tampered x̃ accepted")
	}
	if _, err := Receive(ss, sid, msg[:10]); !errors.Is(err, ErrLength) {
		t.Fatal("short message accepted")
	}
}

var poly = new(big.Int).SetBit(big.NewInt(0x87), 128, 1)

func clmulRef(a, b *big.Int) *big.Int {
	r := new(big.Int)
	for i := 0; i < b.BitLen(); i++ {
		if b.Bit(i) == 1 {
			r.Xor(r, new(big.Int).Lsh(a, uint(i)))
		}
	}
	for i := r.BitLen() - 1; i >= 128; i-- {
		if r.Bit(i) == 1 {
			r.Xor(r, new(big.Int).Lsh(poly, uint(i-128)))
		}
	}
	return r
}

func gfBig(a gf128) *big.Int {
	return new(big.Int).Or(new(big.Int).Lsh(new(big.Int).SetUint64(a.hi), 64), new(big.Int).SetUint64(a.lo))
}

func TestGF128AgainstReference(t *testing.T) {
	var buf [32]byte
	for i := 0; i < 200; i++ {
		rand.Read(buf[:])
		a, b := gfLoad(buf[:16]), gfLoad(buf[16:])
		got := gfBig(newTable(a).mul(b))
		if want := clmulRef(gfBig(a), gfBig(b)); got.Cmp(want) != 0 {
			t.Fatalf("mul mismatch: %x vs %x", got, want)
		}
	}
	// x^127 · x = x^7 + x^2 + x + 1
	if r := newTable(gf128{hi: 1 << 63}).mul(gf128{lo: 2}); r != (gf128{lo: 0x87}) {
		t.Fatalf("reduction wrong: %+v", r)
	}
}

func TestWithRealBaseOT(t *testing.T) {
	ctx := transcript.Context{Sender: 2, Receiver: 1}
	s, m1, err := baseot.NewSender(rand.Reader, ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, m2, err := baseot.NewReceiver(rand.Reader, ctx, m1)
	if err != nil {
		t.Fatal(err)
	}
	m3, err := s.Round2(m2)
	if err != nil {
		t.Fatal(err)
	}
	m4, err := r.Round3(m3)
	if err != nil {
		t.Fatal(err)
	}
	m5, err := s.Round4(m4)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := r.Round5(m5)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := s.Output()
	if err != nil {
		t.Fatal(err)
	}
	var sid [32]byte
	var x [ColBytes]byte
	rand.Read(x[:])
	msg, T, err := Extend(rs, sid, &x)
	if err != nil {
		t.Fatal(err)
	}
	Q, err := Receive(ss, sid, msg)
	if err != nil {
		t.Fatal(err)
	}
	for j := 0; j < Xi; j++ {
		for k := 0; k < RowBytes; k++ {
			if Q[j][k] != T[j][k]^(ss.Delta[k]&-bit(x[:], j)) {
				t.Fatalf("row %d: correlation broken", j)
			}
		}
	}
}

// transposeRef is the bit-by-bit definition of transpose.
func transposeRef(cols *[Kappa][ColBytes]byte, rows *Rows) {
	*rows = Rows{}
	for i := 0; i < Kappa; i++ {
		for j := 0; j < Xi; j++ {
			bit := (cols[i][j/8] >> (j % 8)) & 1
			rows[j][i/8] |= bit << (i % 8)
		}
	}
}

func TestTransposeMatchesDefinition(t *testing.T) {
	cols := new([Kappa][ColBytes]byte)
	for trial := 0; trial < 20; trial++ {
		switch trial {
		case 0: // all zero
		case 1:
			for i := range cols {
				for k := range cols[i] {
					cols[i][k] = 0xff
				}
			}
		default:
			for i := range cols {
				rand.Read(cols[i][:])
			}
		}
		var got, want Rows
		transpose(cols, &got)
		transposeRef(cols, &want)
		if got != want {
			t.Fatalf("trial %d: transpose differs from the bit-by-bit definition", trial)
		}
	}
	// A single set bit lands in exactly one place.
	*cols = [Kappa][ColBytes]byte{}
	cols[77][13] = 1 << 5
	var got Rows
	transpose(cols, &got)
	for j := range got {
		for ib := range got[j] {
			want := byte(0)
			if j == 13*8+5 && ib == 77/8 {
				want = 1 << (77 % 8)
			}
			if got[j][ib] != want {
				t.Fatalf("row %d byte %d = %#x, want %#x", j, ib, got[j][ib], want)
			}
		}
	}
}

// gfMul (the carry-less integer-multiplication version) against the
// math/big reference and the table version, at random and at edge values.
func TestGFMulMatchesReference(t *testing.T) {
	edges := []gf128{{}, {lo: 1}, {hi: 1 << 63}, {lo: ^uint64(0), hi: ^uint64(0)}, {lo: 0x87}, {lo: 1 << 63, hi: 1}, {lo: 0x1111111111111111, hi: 0x8888888888888888}}
	var buf [32]byte
	for i := 0; i < 3000; i++ {
		var a, b gf128
		if i < len(edges)*len(edges) {
			a, b = edges[i/len(edges)], edges[i%len(edges)]
		} else {
			rand.Read(buf[:])
			a, b = gfLoad(buf[:16]), gfLoad(buf[16:])
		}
		got := gfMul(a, b)
		if want := clmulRef(gfBig(a), gfBig(b)); gfBig(got).Cmp(want) != 0 {
			t.Fatalf("gfMul(%x, %x) = %x, want %x", a, b, gfBig(got), want)
		}
		if got != newTable(a).mul(b) {
			t.Fatal("gfMul and the table multiply disagree")
		}
	}
}

// TestCompressMatchesGeneric checks the compression used by this build
// (PCLMULQDQ on amd64) against the portable gfMul version, on random
// challenges and columns and on all-ones and single-bit edge cases.
func TestCompressMatchesGeneric(t *testing.T) {
	var c [blocks - 1]gf128
	var v [ColBytes]byte
	check := func() {
		t.Helper()
		if got, want := compress(&c, v[:]), compressGeneric(&c, v[:]); got != want {
			t.Fatalf("compress = %x, generic = %x", got, want)
		}
	}
	for iter := 0; iter < 2000; iter++ {
		var buf [16 * (blocks - 1)]byte
		rand.Read(buf[:])
		for k := range c {
			c[k] = gfLoad(buf[16*k:])
		}
		rand.Read(v[:])
		check()
	}
	for k := range c {
		c[k] = gf128{lo: ^uint64(0), hi: ^uint64(0)}
	}
	for i := range v {
		v[i] = 0xff
	}
	check()
	for bit := 0; bit < 128; bit++ {
		clear(v[:])
		v[bit/8] = 1 << (bit % 8)
		v[16+15-bit/8] = 0x80 >> (bit % 8)
		check()
	}
}

// TestPRG4MatchesTranscript checks the four-way seed expansion against its
// definition written out with one ordinary transcript per seed.
func TestPRG4MatchesTranscript(t *testing.T) {
	var sid [32]byte
	rand.Read(sid[:])
	pp, err := prgPrefix(&sid)
	if err != nil {
		t.Fatal(err)
	}
	var seeds [4][baseot.SeedSize]byte
	for k := range seeds {
		rand.Read(seeds[k][:])
	}
	idx := [4]int{0, 7, 7, 255}
	var out [4][ColBytes]byte
	prg4(pp, idx, [4]*[baseot.SeedSize]byte{&seeds[0], &seeds[1], &seeds[2], &seeds[3]},
		[4][]byte{out[0][:], out[1][:], out[2][:], out[3][:]})
	for k := range seeds {
		var want [ColBytes]byte
		transcript.New("ote/prg").Bytes(sid[:]).PadBlock().Uint32(uint32(idx[k])).Bytes(seeds[k][:]).Read(want[:])
		if out[k] != want {
			t.Fatalf("seed %d: prg4 differs from the transcript definition", k)
		}
	}
}
