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

func TestSealCommitted(t *testing.T) {
	a, b, _ := ids(t)
	h := Header{Kind: 1, KeyID: [32]byte{1}, Session: [32]byte{2}, Round: 2, Sender: 1, Receiver: Broadcast}
	cmt := bytes.Repeat([]byte{7}, 64)
	e, err := a.SealCommitted(h, []byte("reveal"), cmt)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var got Envelope
	if err := got.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	if !got.Committed || got.Encrypted {
		t.Fatalf("flags after decoding: committed %v encrypted %v", got.Committed, got.Encrypted)
	}
	p, err := OpenCommitted(&got, a.Public(), h, cmt)
	if err != nil || string(p) != "reveal" {
		t.Fatalf("open: %q %v", p, err)
	}
	other := bytes.Clone(cmt)
	other[0] ^= 1
	if _, err := OpenCommitted(&got, a.Public(), h, other); !errors.Is(err, ErrAuth) {
		t.Errorf("accepted against another commitment: %v", err)
	}
	if _, err := OpenCommitted(&got, b.Public(), h, cmt); !errors.Is(err, ErrAuth) {
		t.Errorf("accepted under another sender's key: %v", err)
	}
	h2 := h
	h2.Round++
	if _, err := OpenCommitted(&got, a.Public(), h2, cmt); !errors.Is(err, ErrAuth) {
		t.Errorf("accepted for another round: %v", err)
	}
	// A committed envelope is not a plainly signed one, and the other way round.
	if _, err := Open(&got, a.Public(), h, nil); !errors.Is(err, ErrAuth) {
		t.Errorf("Open accepted a committed envelope: %v", err)
	}
	plain, _ := a.Seal(h, []byte("reveal"), nil)
	if _, err := OpenCommitted(plain, a.Public(), h, cmt); !errors.Is(err, ErrAuth) {
		t.Errorf("OpenCommitted accepted a plainly signed envelope: %v", err)
	}
	// Flipping the flag byte breaks the signature either way.
	flipped := bytes.Clone(raw)
	flipped[2+KeyIDSize+SessionIDSize+4] = 0
	var f Envelope
	if err := f.Unmarshal(flipped); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(&f, a.Public(), h, nil); !errors.Is(err, ErrAuth) {
		t.Errorf("flag flipped to plain accepted: %v", err)
	}
	// The payload itself is bound only through the commitment: the caller
	// checks it (OpenCommitted returns a changed payload unauthenticated).
	tampered := got
	tampered.Payload = []byte("REVEAL")
	if p, err := OpenCommitted(&tampered, a.Public(), h, cmt); err != nil || string(p) != "REVEAL" {
		t.Errorf("OpenCommitted: %q %v", p, err)
	}
	if _, err := a.SealCommitted(h, []byte("x"), nil); err == nil {
		t.Error("sealed without a commitment")
	}
}

func TestChannelReuse(t *testing.T) {
	a, b, _ := ids(t)
	pb := b.Public()
	h := Header{Kind: 3, KeyID: [32]byte{1}, Session: [32]byte{2}, Round: 1, Sender: 1, Receiver: 2}
	e1, err := a.Seal(h, []byte("same payload"), &pb)
	if err != nil {
		t.Fatal(err)
	}
	h.Round = 2
	e2, err := a.Seal(h, []byte("same payload"), &pb)
	if err != nil {
		t.Fatal(err)
	}
	// One encapsulation serves both messages; the salts (and so the
	// message keys and ciphertexts) differ.
	n := 2 + int(e1.Payload[0])<<8 + int(e1.Payload[1])
	if !bytes.Equal(e1.Payload[:n], e2.Payload[:n]) {
		t.Error("second message opened a new channel")
	}
	if bytes.Equal(e1.Payload[n:n+saltSize], e2.Payload[n:n+saltSize]) || bytes.Equal(e1.Payload[n+saltSize:], e2.Payload[n+saltSize:]) {
		t.Error("two messages share a salt or a ciphertext")
	}
	for _, e := range []*Envelope{e1, e2} {
		if p, err := Open(e, a.Public(), e.Header, b); err != nil || string(p) != "same payload" {
			t.Fatalf("open: %q %v", p, err)
		}
	}
	if len(b.ch.in) != 1 {
		t.Errorf("receiver holds %d channels, want 1", len(b.ch.in))
	}
	// The channel is bound to its sender: a third identity signing a copy
	// of a's ciphertext under its own key cannot have it decrypted.
	c, _ := NewIdentity()
	forged := &Envelope{Header: e1.Header, Encrypted: true, Payload: e1.Payload}
	forged.Signature = c.signEnvelope(forged)
	if _, err := Open(forged, c.Public(), e1.Header, b); !errors.Is(err, ErrAuth) {
		t.Errorf("another sender reused a's channel: %v", err)
	}
	// Salt and enc are covered: a changed salt fails.
	bad := *e1
	bad.Payload = bytes.Clone(e1.Payload)
	bad.Payload[n] ^= 1
	bad.Signature = a.signEnvelope(&bad)
	if _, err := Open(&bad, a.Public(), bad.Header, b); !errors.Is(err, ErrAuth) {
		t.Errorf("changed salt accepted: %v", err)
	}
	for _, cut := range []int{0, 1, 2, n, n + saltSize, n + saltSize + 15} {
		short := *e1
		short.Payload = e1.Payload[:cut]
		short.Signature = a.signEnvelope(&short)
		if _, err := Open(&short, a.Public(), short.Header, b); !errors.Is(err, ErrAuth) {
			t.Errorf("payload cut to %d bytes accepted: %v", cut, err)
		}
	}
}

func TestChannelCacheBound(t *testing.T) {
	if testing.Short() {
		t.Skip("opens hundreds of channels")
	}
	_, b, _ := ids(t)
	pb := b.Public()
	h := Header{Kind: 3, Round: 1, Sender: 1, Receiver: 2}
	for i := 0; i < maxInChannels+8; i++ {
		a, err := NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		e, err := a.Seal(h, []byte{byte(i)}, &pb)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := Open(e, a.Public(), h, b); err != nil || len(p) != 1 || p[0] != byte(i) {
			t.Fatalf("open %d: %v", i, err)
		}
	}
	if len(b.ch.in) != maxInChannels || len(b.ch.inOrder) != maxInChannels {
		t.Errorf("cache holds %d (%d ordered) channels, want %d", len(b.ch.in), len(b.ch.inOrder), maxInChannels)
	}
}

// FuzzDecrypt feeds arbitrary encrypted payloads to the channel decryption
// (what Open reaches once a signature verified): it must reject all but
// the sealed payload, never panic, and not grow the channel cache beyond
// its bound.
func FuzzDecrypt(f *testing.F) {
	a, b, _ := ids(f)
	pb := b.Public()
	h := Header{Kind: 5, Round: 1, Sender: 1, Receiver: 2}
	e, err := a.Seal(h, []byte("presign message"), &pb)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(e.Payload)
	f.Add(e.Payload[:len(e.Payload)-1])
	f.Add([]byte{0, 0})
	f.Add([]byte{0xff, 0xff, 1, 2, 3})
	f.Fuzz(func(t *testing.T, ct []byte) {
		pt, err := b.decrypt(&h, a.Public().Sign, ct)
		if err == nil && (string(pt) != "presign message" || !bytes.Equal(ct, e.Payload)) {
			t.Fatalf("decrypted a payload that was not sealed: %q", pt)
		}
		if len(b.ch.in) > maxInChannels {
			t.Fatalf("%d cached channels", len(b.ch.in))
		}
	})
}
