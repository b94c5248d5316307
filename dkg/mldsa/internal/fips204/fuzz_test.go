package fips204

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func FuzzDecodeSignature(f *testing.F) {
	f.Add(make([]byte, SignatureSize))
	var seed [32]byte
	pk, _ := KeyGenInternal(&seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		cTilde, z, h, err := DecodeSignature(b)
		ok := VerifyMu(pk, new([MuSize]byte), b)
		if err != nil {
			if ok {
				t.Fatal("undecodable signature verified")
			}
			return
		}
		hints := 0
		for i := range h {
			for _, x := range h[i] {
				hints += int(x)
			}
		}
		if hints > Omega {
			t.Fatal("decoded more than ω hints")
		}
		out := make([]byte, SignatureSize)
		EncodeSignature(out, cTilde, z, h)
		if !bytes.Equal(out, b) {
			t.Fatal("signature decoding not canonical")
		}
	})
}

func FuzzDecodePrivateKey(f *testing.F) {
	f.Add(make([]byte, PrivateKeySize))
	f.Fuzz(func(t *testing.T, b []byte) {
		sk, err := DecodePrivateKey(b)
		if err != nil {
			return
		}
		if !bytes.Equal(sk.Bytes(), b) {
			t.Fatal("private key decoding not canonical")
		}
	})
}

// TestWriteFuzzSeeds regenerates the committed seed corpora from the ACVP
// vectors when CC_TSA_WRITE_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("CC_TSA_WRITE_SEEDS") != "1" {
		t.Skip("set CC_TSA_WRITE_SEEDS=1 to regenerate testdata/fuzz seeds")
	}
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
	v := readACVP(t, "sigVer")
	for i, tc := range v.TestGroups[0].Tests[:4] {
		write("FuzzDecodeSignature", i, tc.Signature)
	}
	g := readACVP(t, "sigGen")
	for i, tc := range g.TestGroups[0].Tests[:2] {
		write("FuzzDecodePrivateKey", i, tc.SK)
	}
}
