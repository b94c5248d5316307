package mldsa

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// A decoder that accepts an input must be canonical: re-encoding gives the
// same bytes. No input may panic.

func FuzzCommitment(f *testing.F) {
	f.Add([]byte{wireVersion, typeCommit, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Commitment
		if err := c.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out, err := c.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("not canonical: %v", err)
		}
	})
}

func FuzzReveal(f *testing.F) {
	f.Add([]byte{wireVersion, typeReveal, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Reveal
		if err := r.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out, err := r.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("not canonical: %v", err)
		}
	})
}

func FuzzResponse(f *testing.F) {
	f.Add([]byte{wireVersion, typeResponse, 1, 0, 3, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Response
		if err := r.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out, err := r.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("not canonical: %v", err)
		}
		for j := -1; j <= r.Slots; j++ {
			r.Accepted(j)
		}
	})
}

func FuzzKeyShare(f *testing.F) {
	f.Add([]byte{wireVersion, typeKeyShare, 2, 2, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ks, err := ParseKeyShare(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out, err := ks.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("not canonical: %v", err)
		}
	})
}

func FuzzPublicKey(f *testing.F) {
	f.Add(make([]byte, PublicKeySize))
	f.Fuzz(func(t *testing.T, b []byte) {
		pk, err := ParsePublicKey(b)
		if err != nil {
			if len(b) == PublicKeySize {
				t.Fatal("a 1952-byte key was rejected")
			}
			return
		}
		if !bytes.Equal(pk.Bytes(), b) {
			t.Fatal("not canonical")
		}
	})
}

// TestWriteFuzzSeeds regenerates the committed seed corpora from a real
// 2-of-2 session when CC_TSA_WRITE_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("CC_TSA_WRITE_SEEDS") != "1" {
		t.Skip("set CC_TSA_WRITE_SEEDS=1 to regenerate testdata/fuzz seeds")
	}
	pk, shares, err := GenerateKey(rand.Reader, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	mu, _ := pk.Mu([]byte("seed"), nil)
	r := (&fixture{pk, shares}).startWith(t, SessionConfig{Signers: []int{0, 1}, Mu: mu})
	r.round2(t)
	r.round3(t)
	write := func(name string, i int, b []byte) {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range r.cmts {
		b, _ := r.cmts[i].MarshalBinary()
		write("FuzzCommitment", i, b)
		b, _ = r.revs[i].MarshalBinary()
		write("FuzzReveal", i, b)
		b, _ = r.resps[i].MarshalBinary()
		write("FuzzResponse", i, b)
		b, _ = shares[i].MarshalBinary()
		write("FuzzKeyShare", i, b)
	}
	write("FuzzPublicKey", 0, pk.Bytes())
}
