package transcript

import (
	"bytes"
	"testing"
)

func TestLengthPrefixSeparates(t *testing.T) {
	a := New("x").Bytes([]byte("ab")).Bytes([]byte("c")).Sum(32)
	b := New("x").Bytes([]byte("a")).Bytes([]byte("bc")).Sum(32)
	if bytes.Equal(a, b) {
		t.Fatal("length prefix does not separate fields")
	}
	c := New("y").Bytes([]byte("ab")).Bytes([]byte("c")).Sum(32)
	if bytes.Equal(a, c) {
		t.Fatal("purpose not bound")
	}
}

func TestContextBinding(t *testing.T) {
	base := Context{Sender: 1, Receiver: 2, Round: 3}
	ref := New("p").Context(&base).Sum(32)
	mods := []func(c *Context){
		func(c *Context) { c.KeyID[0] ^= 1 },
		func(c *Context) { c.SessionID[31] ^= 1 },
		func(c *Context) { c.Sender = 2 },
		func(c *Context) { c.Receiver = 1 },
		func(c *Context) { c.Round = 4 },
	}
	for i, m := range mods {
		c := base
		m(&c)
		if bytes.Equal(New("p").Context(&c).Sum(32), ref) {
			t.Fatalf("field %d not bound", i)
		}
	}
	if !bytes.Equal(New("p").Context(&base).Sum(32), ref) {
		t.Fatal("not deterministic")
	}
}

func TestClone(t *testing.T) {
	x := New("p").Bytes([]byte("a"))
	y := x.Clone()
	x.Uint32(1)
	y.Uint32(1)
	if !bytes.Equal(x.Sum(32), y.Sum(32)) {
		t.Fatal("clone diverged")
	}
}

// treeReference is BytesTree written out one leaf at a time through
// crypto/sha3 (the ordinary transcript path).
func treeReference(t *T, b []byte) *T {
	c := len(b) / 4
	t.Uint32(uint32(len(b)))
	for k := 0; k < 4; k++ {
		t.Bytes(New("tree/leaf").PadBlock().Uint32(uint32(k)).Bytes(b[k*c : (k+1)*c]).Sum(TreeLeafSize))
	}
	return t
}

func TestBytesTreeMatchesDefinition(t *testing.T) {
	for _, n := range []int{0, 4, 136, 540, 544, 548, 24576, 30720, 92160} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + n)
		}
		got := New("p").Bytes([]byte("pre")).BytesTree(b).Uint32(9).Sum(32)
		want := treeReference(New("p").Bytes([]byte("pre")), b).Uint32(9).Sum(32)
		if !bytes.Equal(got, want) {
			t.Fatalf("length %d: BytesTree differs from its definition", n)
		}
	}
}

func TestBytesTreeBindsEveryByte(t *testing.T) {
	b := make([]byte, 4*1000)
	for i := range b {
		b[i] = byte(i)
	}
	ref := New("p").BytesTree(b).Sum(32)
	for _, i := range []int{0, 1, 999, 1000, 1999, 2000, 3000, 3999} {
		b[i] ^= 1
		if bytes.Equal(New("p").BytesTree(b).Sum(32), ref) {
			t.Fatalf("byte %d not bound", i)
		}
		b[i] ^= 1
	}
	// Swapping two quarters changes the digest (leaf indices are bound).
	s := append(append(append(append([]byte(nil), b[1000:2000]...), b[:1000]...), b[2000:3000]...), b[3000:]...)
	if bytes.Equal(New("p").BytesTree(s).Sum(32), ref) {
		t.Fatal("leaf order not bound")
	}
	// The length is bound, and a tree digest differs from the plain field.
	if bytes.Equal(New("p").BytesTree(b[:3996]).Sum(32), ref) || bytes.Equal(New("p").Bytes(b).Sum(32), ref) {
		t.Fatal("length or encoding not bound")
	}
	if !bytes.Equal(New("p").BytesTree(b).Sum(32), ref) {
		t.Fatal("not deterministic")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("length not a multiple of 4 accepted")
		}
	}()
	New("p").BytesTree(b[:3])
}
