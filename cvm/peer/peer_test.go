package peer

import (
	"bytes"
	"errors"
	"testing"
)

func ids(t testing.TB) (*Identity, *Identity, *Identity) {
	a, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewIdentity()
	c, _ := NewIdentity()
	return a, b, c
}

func TestSealOpen(t *testing.T) {
	a, b, c := ids(t)
	h := Header{Kind: 3, KeyID: [32]byte{1}, Session: [32]byte{2}, Round: 4, Sender: 1, Receiver: 2}
	for _, encrypt := range []bool{false, true} {
		var to *PublicKeys
		if encrypt {
			pb := b.Public()
			to = &pb
		}
		e, err := a.Seal(h, []byte("share"), to)
		if err != nil {
			t.Fatal(err)
		}
		if encrypt && bytes.Contains(e.Payload, []byte("share")) {
			t.Fatal("payload not encrypted")
		}
		raw, _ := e.Marshal()
		var got Envelope
		if err := got.Unmarshal(raw); err != nil {
			t.Fatal(err)
		}
		pt, err := Open(&got, a.Public(), h, b)
		if err != nil || string(pt) != "share" {
			t.Fatalf("open: %q %v", pt, err)
		}
		// Wrong sender key, wrong expected header, tampering, wrong receiver key.
		if _, err := Open(&got, c.Public(), h, b); !errors.Is(err, ErrAuth) {
			t.Errorf("accepted under another sender's key: %v", err)
		}
		h2 := h
		h2.Round++
		if _, err := Open(&got, a.Public(), h2, b); !errors.Is(err, ErrAuth) {
			t.Errorf("accepted for another round: %v", err)
		}
		bad := got
		bad.Payload = bytes.Clone(got.Payload)
		bad.Payload[0] ^= 1
		if _, err := Open(&bad, a.Public(), h, b); !errors.Is(err, ErrAuth) {
			t.Errorf("tampered payload accepted: %v", err)
		}
		if encrypt {
			if _, err := Open(&got, a.Public(), h, c); !errors.Is(err, ErrAuth) {
				t.Errorf("decrypted by a third party: %v", err)
			}
			// A re-signed envelope with the same ciphertext under another
			// header does not decrypt: the header is the HPKE info.
			moved := &Envelope{Header: h2, Encrypted: true, Payload: got.Payload}
			moved.Signature = signRaw(a, moved)
			if _, err := Open(moved, a.Public(), h2, b); !errors.Is(err, ErrAuth) {
				t.Errorf("ciphertext moved to another round decrypted: %v", err)
			}
		}
	}
	if _, err := a.Seal(Header{Sender: 1, Receiver: Broadcast}, []byte("x"), &PublicKeys{}); err == nil {
		t.Error("encrypted broadcast allowed")
	}
}

func TestPublicKeysRoundTrip(t *testing.T) {
	a, _, _ := ids(t)
	p, err := ParsePublicKeys(a.Public().Marshal())
	if err != nil || !bytes.Equal(p.Sign, a.Public().Sign) || !bytes.Equal(p.KEM, a.Public().KEM) {
		t.Fatalf("%v", err)
	}
	raw := a.Public().Marshal()
	for i := range raw {
		if _, err := ParsePublicKeys(raw[:i]); err == nil {
			t.Fatalf("prefix of %d bytes accepted", i)
		}
	}
}

func FuzzEnvelope(f *testing.F) {
	a, _, _ := ids(f)
	e, _ := a.Seal(Header{Kind: 1, Sender: 2, Receiver: 0, Round: 1}, []byte("hello"), nil)
	raw, _ := e.Marshal()
	f.Add(raw)
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Envelope
		if e.Unmarshal(data) != nil {
			return
		}
		again, err := e.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatal("decode/encode not the identity")
		}
		Open(&e, a.Public(), e.Header, a)
	})
}
