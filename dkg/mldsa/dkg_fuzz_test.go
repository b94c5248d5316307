package mldsa

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"os"
	"testing"
)

type wireMsg interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// fuzzCanonical checks that decoding never panics, fails only with
// ErrMalformed, and accepts only canonical encodings.
func fuzzCanonical(f *testing.F, fresh func() wireMsg, seed []byte) {
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		m := fresh()
		if err := m.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out, err := m.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("not canonical: %v", err)
		}
	})
}

func FuzzDKGCommit(f *testing.F) {
	fuzzCanonical(f, func() wireMsg { return new(DKGCommit) }, []byte{wireVersion, typeDKGCommit, 0})
}

func FuzzDKGSeed(f *testing.F) {
	fuzzCanonical(f, func() wireMsg { return new(DKGSeed) }, []byte{wireVersion, typeDKGSeed, 0, 1, 3})
}

func FuzzDKGReveal(f *testing.F) {
	fuzzCanonical(f, func() wireMsg { return new(DKGReveal) }, []byte{wireVersion, typeDKGReveal, 0})
}

func FuzzDKGTCommit(f *testing.F) {
	fuzzCanonical(f, func() wireMsg { return new(DKGTCommit) }, []byte{wireVersion, typeDKGTCommit, 0, 0})
}

func FuzzDKGTReveal(f *testing.F) {
	fuzzCanonical(f, func() wireMsg { return new(DKGTReveal) }, []byte{wireVersion, typeDKGTReveal, 0, 0})
}

func FuzzDKGConfirm(f *testing.F) {
	fuzzCanonical(f, func() wireMsg { return new(DKGConfirm) }, []byte{wireVersion, typeDKGConfirm, 0, 0, 1, 0})
}

// TestDKGWire runs a 2-of-3 ceremony through the wire encodings, and with
// CC_TSA_WRITE_SEEDS=1 writes the messages as fuzz seed corpora.
func TestDKGWire(t *testing.T) {
	writeSeeds := os.Getenv("CC_TSA_WRITE_SEEDS") == "1"
	n := 0
	roundTrip := func(name string, m wireMsg, fresh wireMsg) {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := fresh.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b2, _ := fresh.MarshalBinary()
		if !bytes.Equal(b, b2) {
			t.Fatalf("%s: round trip", name)
		}
		if err := fresh.UnmarshalBinary(append(b, 0)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s with a trailing byte: %v", name, err)
		}
		if writeSeeds {
			writeSeed(t, name, n, b)
			n++
		}
	}
	c, _, _, err := runDKG(t, dkgParties(t, 2, 3), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range c.commits {
		roundTrip("FuzzDKGCommit", m, new(DKGCommit))
	}
	for _, m := range c.seeds {
		roundTrip("FuzzDKGSeed", m, new(DKGSeed))
	}
	for _, m := range c.reveals {
		roundTrip("FuzzDKGReveal", m, new(DKGReveal))
	}
	for _, m := range c.tcs {
		roundTrip("FuzzDKGTCommit", m, new(DKGTCommit))
	}
	for _, m := range c.trs {
		roundTrip("FuzzDKGTReveal", m, new(DKGTReveal))
	}
	for _, m := range c.cfs {
		roundTrip("FuzzDKGConfirm", m, new(DKGConfirm))
	}
}

func writeSeed(t *testing.T, name string, i int, b []byte) {
	t.Helper()
	dir := "testdata/fuzz/" + name
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
	if err := os.WriteFile(fmt.Sprintf("%s/seed%d", dir, i), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
