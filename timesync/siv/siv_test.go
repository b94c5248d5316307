package siv

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 4493 §4 AES-CMAC examples.
func TestCMACRFC4493(t *testing.T) {
	key := unhex(t, "2b7e151628aed2a6abf7158809cf4f3c")
	msg := unhex(t, "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
	cases := []struct {
		n    int
		want string
	}{
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{40, "dfa66747de9ae63030ca32611497c827"},
		{64, "51f0bebf7e3b9d92fc49741779363cfe"},
	}
	m, err := newCMAC(key)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		var out [TagSize]byte
		m.sum(&out, msg[:c.n])
		if got := hex.EncodeToString(out[:]); got != c.want {
			t.Errorf("CMAC(len %d) = %s, want %s", c.n, got, c.want)
		}
	}
}

type vector struct {
	name, key string
	ad        []string
	pt, ct    string
}

var vectors = []vector{
	{ // RFC 5297 A.1 Deterministic Authenticated Encryption Example
		name: "RFC5297-A.1",
		key:  "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
		ad:   []string{"101112131415161718191a1b1c1d1e1f2021222324252627"},
		pt:   "112233445566778899aabbccddee",
		ct:   "85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c",
	},
	{ // RFC 5297 A.2 Nonce-Based Authenticated Encryption Example (AD1, AD2, nonce)
		name: "RFC5297-A.2",
		key:  "7f7e7d7c7b7a79787776757473727170404142434445464748494a4b4c4d4e4f",
		ad: []string{
			"00112233445566778899aabbccddeeffdeaddadadeaddadaffeeddccbbaa99887766554433221100",
			"102030405060708090a0",
			"09f911029d74e35bd84156c5635688c0",
		},
		pt: "7468697320697320736f6d6520706c61696e7465787420746f20656e6372797074207573696e67205349562d414553",
		ct: "7bdb6e3b432667eb06f4d14bff2fbd0fcb900f2fddbe404326601965c889bf17dba77ceb094fa663b7a3f748ba8af829ea64ad544a272e9c485b62a3fd5c0d",
	},
	{ // Empty AD vector and empty plaintext (Miscreant/Wycheproof-style collection).
		name: "empty",
		key:  "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
		pt:   "",
		ct:   "f2007a5beb2b8900c588a7adf599f172",
	},
}

func TestVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			a, err := New(unhex(t, v.key))
			if err != nil {
				t.Fatal(err)
			}
			var ad [][]byte
			for _, s := range v.ad {
				ad = append(ad, unhex(t, s))
			}
			pt, want := unhex(t, v.pt), unhex(t, v.ct)
			got, err := a.Seal(nil, pt, ad...)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Seal = %x, want %x", got, want)
			}
			back, err := a.Open([]byte("prefix"), want, ad...)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back, append([]byte("prefix"), pt...)) {
				t.Fatalf("Open = %x", back)
			}
			// Every single-bit flip in the ciphertext must be rejected.
			for i := 0; i < len(want)*8; i++ {
				bad := bytes.Clone(want)
				bad[i/8] ^= 1 << (i % 8)
				if _, err := a.Open(nil, bad, ad...); !errors.Is(err, ErrOpen) {
					t.Fatalf("bit %d flip accepted", i)
				}
			}
			// Changing, dropping or reordering AD components must be rejected.
			if len(ad) > 0 {
				if _, err := a.Open(nil, want, ad[:len(ad)-1]...); !errors.Is(err, ErrOpen) {
					t.Fatal("dropped AD component accepted")
				}
				bad := make([][]byte, len(ad))
				for i := range ad {
					bad[i] = bytes.Clone(ad[i])
				}
				bad[0] = append(bad[0], 0)
				if _, err := a.Open(nil, want, bad...); !errors.Is(err, ErrOpen) {
					t.Fatal("modified AD accepted")
				}
			}
			if len(ad) > 1 {
				swapped := append([][]byte{ad[1], ad[0]}, ad[2:]...)
				if _, err := a.Open(nil, want, swapped...); !errors.Is(err, ErrOpen) {
					t.Fatal("reordered AD accepted")
				}
			}
		})
	}
}

// A concatenation of AD components is not the same as the vector: S2V must
// keep components apart ("ab","c" ≠ "a","bc").
func TestComponentBoundaries(t *testing.T) {
	a, _ := New(make([]byte, 32))
	x, _ := a.Seal(nil, []byte("p"), []byte("ab"), []byte("c"))
	y, _ := a.Seal(nil, []byte("p"), []byte("a"), []byte("bc"))
	z, _ := a.Seal(nil, []byte("p"), []byte("abc"))
	if bytes.Equal(x, y) || bytes.Equal(x, z) || bytes.Equal(y, z) {
		t.Fatal("component boundaries not bound")
	}
}

func TestKeySizesAndLimits(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 65} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("key length %d accepted", n)
		}
	}
	for _, n := range []int{32, 48, 64} {
		a, err := New(make([]byte, n))
		if err != nil {
			t.Fatalf("key length %d: %v", n, err)
		}
		for l := 0; l < 70; l++ {
			pt := make([]byte, l)
			rand.Read(pt)
			ct, _ := a.Seal(nil, pt, []byte("ad"), []byte("nonce"))
			if len(ct) != l+TagSize {
				t.Fatalf("len %d", len(ct))
			}
			back, err := a.Open(nil, ct, []byte("ad"), []byte("nonce"))
			if err != nil || !bytes.Equal(back, pt) {
				t.Fatalf("roundtrip len %d: %v", l, err)
			}
		}
	}
	a, _ := New(make([]byte, 32))
	many := make([][]byte, MaxADComponents+1)
	if _, err := a.Seal(nil, nil, many...); !errors.Is(err, ErrTooManyComponents) {
		t.Fatal("too many components accepted")
	}
	if _, err := a.Seal(nil, nil, many[:MaxADComponents]...); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Open(nil, make([]byte, TagSize-1)); !errors.Is(err, ErrOpen) {
		t.Fatal("short ciphertext accepted")
	}
}

func FuzzOpen(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef"), []byte("ad"), []byte("nonce"), []byte("ciphertext-that-is-long"))
	f.Fuzz(func(t *testing.T, key, ad, nonce, ct []byte) {
		if len(key) != 32 {
			return
		}
		a, err := New(key)
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := a.Open(nil, ct, ad, nonce); err == nil {
			// Only a genuine ciphertext opens: re-sealing must reproduce it.
			again, _ := a.Seal(nil, pt, ad, nonce)
			if !bytes.Equal(again, ct) {
				t.Fatal("Open accepted a ciphertext Seal does not produce")
			}
		}
		sealed, _ := a.Seal(nil, ct, ad, nonce)
		back, err := a.Open(nil, sealed, ad, nonce)
		if err != nil || !bytes.Equal(back, ct) {
			t.Fatal("roundtrip failed")
		}
	})
}

func BenchmarkSealNTSRequest(b *testing.B) {
	a, _ := New(make([]byte, 32))
	ad := make([]byte, 48+36+104)
	nonce := make([]byte, 16)
	b.ReportAllocs()
	for b.Loop() {
		a.Seal(nil, nil, ad, nonce)
	}
}

func BenchmarkOpenNTSResponse(b *testing.B) {
	a, _ := New(make([]byte, 32))
	ad := make([]byte, 48+36)
	nonce := make([]byte, 16)
	ct, _ := a.Seal(nil, make([]byte, 3*104), ad, nonce)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Open(nil, ct, ad, nonce); err != nil {
			b.Fatal(err)
		}
	}
}
