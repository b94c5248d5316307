package ecdsa

import (
	"go/parser"
	"go/token"
	"io/fs"
	"math/big"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Production code must not use variable-time arithmetic: math/big and circl
// are allowed in tests only.
func TestNoVariableTimeImports(t *testing.T) {
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "math/big" || strings.HasPrefix(p, "github.com/cloudflare/circl") {
				t.Errorf("%s imports %s", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 15 {
		t.Fatalf("only %d files checked", checked)
	}
}

func TestSignatureDEREncoding(t *testing.T) {
	cases := [][2][]byte{
		{{0x01}, {0x80}},
		{append(make([]byte, 47), 0x7f), append([]byte{0xff}, make([]byte, 47)...)},
		{append([]byte{0x00, 0x00, 0x81}, make([]byte, 45)...), {0x00, 0x01}},
	}
	for _, c := range cases {
		der, err := encodeSignature(c[0], c[1])
		if err != nil {
			t.Fatal(err)
		}
		in := cryptobyte.String(der)
		var seq cryptobyte.String
		r, s := new(big.Int), new(big.Int)
		if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() || !seq.ReadASN1Integer(r) || !seq.ReadASN1Integer(s) || !seq.Empty() {
			t.Fatalf("bad DER %x", der)
		}
		if r.Cmp(new(big.Int).SetBytes(c[0])) != 0 || s.Cmp(new(big.Int).SetBytes(c[1])) != 0 {
			t.Fatalf("DER round trip mismatch %x", der)
		}
	}
}
