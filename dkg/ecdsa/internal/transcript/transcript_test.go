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
