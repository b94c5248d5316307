package ecdsa

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
)

type codec interface {
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}

// fuzzDecoder checks that decoding never panics and that every accepted
// input is the canonical encoding of what was decoded.
func fuzzDecoder(f *testing.F, fresh func() codec, seeds ...codec) {
	for _, s := range seeds {
		b, err := s.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(append(b, 0))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := fresh()
		if err := m.UnmarshalBinary(b); err != nil {
			return
		}
		out, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatal("accepted a non-canonical encoding")
		}
	})
}

func seedPoint() (p [p384.PointSize]byte) { return randomPoint() }

func seedScalar() (s [p384.ScalarSize]byte) {
	x, _ := p384.NewScalar().Random(rand.Reader)
	x.PutBytes(s[:])
	return
}

func FuzzDKGRound1Broadcast(f *testing.F) {
	fuzzDecoder(f, func() codec { return new(DKGRound1Broadcast) }, &DKGRound1Broadcast{From: 1})
}

func FuzzDKGRound1Direct(f *testing.F) {
	m := &DKGRound1Direct{From: 1, To: 2}
	p := seedPoint()
	copy(m.OT[:], p[:])
	fuzzDecoder(f, func() codec { return new(DKGRound1Direct) }, m)
}

func FuzzDKGRound2Broadcast(f *testing.F) {
	m := &DKGRound2Broadcast{From: 3}
	for k := range m.Coeffs {
		m.Coeffs[k] = seedPoint()
	}
	fuzzDecoder(f, func() codec { return new(DKGRound2Broadcast) }, m)
}

func FuzzDKGRound2Direct(f *testing.F) {
	fuzzDecoder(f, func() codec { return new(DKGRound2Direct) }, &DKGRound2Direct{From: 4, To: 5, Share: seedScalar()})
}

func FuzzDKGRound3Broadcast(f *testing.F) {
	fuzzDecoder(f, func() codec { return new(DKGRound3Broadcast) }, &DKGRound3Broadcast{From: 5})
}

func FuzzDKGOTDirect(f *testing.F) {
	var seeds []codec
	for r := 3; r <= 5; r++ {
		seeds = append(seeds, &DKGOTDirect{Round: r, From: 1, To: 2, OT: make([]byte, otSize(r))})
	}
	fuzzDecoder(f, func() codec { return new(DKGOTDirect) }, seeds...)
}

func FuzzPresignRound1(f *testing.F) {
	fuzzDecoder(f, func() codec { return new(PresignRound1) }, &PresignRound1{From: 1, To: 3})
}

func FuzzPresignRound2(f *testing.F) {
	m := &PresignRound2{From: 2, To: 1, R: seedPoint(), PK: seedPoint(), GammaU: seedPoint(), GammaV: seedPoint(), Psi: seedScalar()}
	fuzzDecoder(f, func() codec { return new(PresignRound2) }, m)
}

func FuzzSignShare(f *testing.F) {
	m := &SignShare{From: 2, Signers: [Threshold]int{1, 2, 5}, R: seedPoint(), W: seedScalar(), U: seedScalar()}
	fuzzDecoder(f, func() codec { return new(SignShare) }, m)
}

// Strict-decoding unit checks that complement the fuzz targets.
func TestDecodersStrict(t *testing.T) {
	good := &SignShare{From: 2, Signers: [Threshold]int{1, 2, 5}, R: seedPoint(), W: seedScalar(), U: seedScalar()}
	b, _ := good.MarshalBinary()
	if err := new(SignShare).UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	mut := func(f func(c []byte) []byte) error {
		c := append([]byte(nil), b...)
		return new(SignShare).UnmarshalBinary(f(c))
	}
	bad := map[string]func(c []byte) []byte{
		"truncated":    func(c []byte) []byte { return c[:len(c)-1] },
		"trailing":     func(c []byte) []byte { return append(c, 0) },
		"wrong tag":    func(c []byte) []byte { c[0] = tagPre1; return c },
		"wrong ver":    func(c []byte) []byte { c[1] = 9; return c },
		"party 0":      func(c []byte) []byte { c[34] = 0; return c },
		"party 6":      func(c []byte) []byte { c[34] = 6; return c },
		"not in set":   func(c []byte) []byte { c[34] = 3; return c },
		"unsorted set": func(c []byte) []byte { c[35], c[36] = 2, 1; return c },
		"identity R":   func(c []byte) []byte { clear(c[38 : 38+97]); return c },
		"off-curve R":  func(c []byte) []byte { c[38+60] ^= 1; return c },
		"w = n": func(c []byte) []byte {
			copy(c[38+97:], p384.Order())
			return c
		},
		"u ≥ n": func(c []byte) []byte {
			copy(c[38+97+48:], bytes.Repeat([]byte{0xff}, 48))
			return c
		},
	}
	for name, f := range bad {
		if err := mut(f); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	pm := &PresignRound2{From: 2, To: 2, R: seedPoint(), PK: seedPoint(), GammaU: seedPoint(), GammaV: seedPoint()}
	pb, _ := pm.MarshalBinary()
	if new(PresignRound2).UnmarshalBinary(pb) == nil {
		t.Error("message to self accepted")
	}
	// Presigning messages are format version 3 (version 2 changed the RVOLE
	// challenge hashing, version 3 added the binding); messages from a node
	// running older code are refused at decoding, before any OT check could
	// ban the pair.
	pm.To = 3
	pb, _ = pm.MarshalBinary()
	p1 := &PresignRound1{From: 2, To: 3}
	p1b, _ := p1.MarshalBinary()
	if pb[1] != 3 || p1b[1] != 3 || b[1] != 1 {
		t.Fatalf("format versions %d, %d, %d; want 3, 3, 1", pb[1], p1b[1], b[1])
	}
	if err := new(PresignRound2).UnmarshalBinary(pb); err != nil {
		t.Fatal(err)
	}
	if err := new(PresignRound1).UnmarshalBinary(p1b); err != nil {
		t.Fatal(err)
	}
	pb[1], p1b[1] = 2, 2
	if err := new(PresignRound2).UnmarshalBinary(pb); !errors.Is(err, ErrDecode) {
		t.Errorf("version-2 PresignRound2: %v", err)
	}
	if err := new(PresignRound1).UnmarshalBinary(p1b); !errors.Is(err, ErrDecode) {
		t.Errorf("version-2 PresignRound1: %v", err)
	}
}

func FuzzPairMessage(f *testing.F) {
	var seeds []codec
	for r := 1; r <= 5; r++ {
		m := &PairMessage{Round: r, From: 1, To: 5, OT: make([]byte, pairOTSize(r))}
		if r == 1 {
			p := seedPoint()
			copy(m.OT, p[:])
		}
		seeds = append(seeds, m)
	}
	fuzzDecoder(f, func() codec { return new(PairMessage) }, seeds...)
}

func FuzzReshareContribution(f *testing.F) {
	m := &ReshareContribution{From: 1, To: 5, Helpers: [Threshold]int{1, 2, 3}, PK: seedPoint(), C: seedScalar(), Z: seedPoint()}
	for k := range m.Shares {
		m.Shares[k] = seedPoint()
	}
	fuzzDecoder(f, func() codec { return new(ReshareContribution) }, m)
}

func TestNilAndForeignInputsDoNotPanic(t *testing.T) {
	d, err := NewDKG(DKGConfig{Self: 1, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Round1(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Round2([]*DKGRound1Broadcast{nil}, nil); err == nil {
		t.Fatal("nil broadcast accepted")
	}
	if _, _, err := d.Round2(nil, nil); err == nil {
		t.Fatal("DKG continued after a failure")
	}
	if _, err := Combine(nil, make([]byte, DigestSize), []*SignShare{nil, nil, nil}); err == nil {
		t.Fatal("nil shares accepted")
	}
	if _, err := Sign(nil, make([]byte, DigestSize)); err == nil {
		t.Fatal("nil presignature accepted")
	}
	if _, err := NewReplacementShare(5, []*ReshareContribution{nil, nil, nil}); err == nil {
		t.Fatal("nil contributions accepted")
	}
	if _, err := VerifyComplaint(nil, nil); err == nil {
		t.Fatal("nil complaint accepted")
	}
	if _, err := NewDKG(DKGConfig{Self: 6, Rand: rand.Reader}); err == nil {
		t.Fatal("party index 6 accepted")
	}
}
