package oracle

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha512"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/clock"
	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

// testClock is a clock whose reading the test sets.
type testClock struct {
	mu sync.Mutex
	r  clock.Reading
}

func (c *testClock) Now() clock.Reading {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.r
	r.Time = time.Now().Add(r.Time.Sub(time.Time{}))
	return r
}

func (c *testClock) set(offset time.Duration, trusted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.r = clock.Reading{Time: time.Time{}.Add(offset), Accuracy: 20 * time.Millisecond, Trusted: trusted, Source: "test clock"}
}

func newTestOracle(t *testing.T) (*Oracle, *testClock) {
	t.Helper()
	clk := &testClock{}
	clk.set(0, true)
	name, _ := tst.EncodeName([][2]string{{"CN", "test"}})
	o, err := New(Config{TSAName: name, Clock: clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return o, clk
}

func install(t *testing.T, o *Oracle) {
	t.Helper()
	ref := wire.CertInfo{Certificate: []byte{0x30, 0x01, 0x00}, Issuer: []byte{0x30, 0x00}, Serial: []byte{0x01}}
	if err := o.Install(&wire.InstallRequest{ECDSA: ref, MLDSA: ref}); err != nil {
		t.Fatal(err)
	}
}

func fields() *wire.TokenFields {
	return &wire.TokenFields{Policy: wire.PolicyHybrid, HashAlg: wire.SHA256, Imprint: make([]byte, 32), Nonce: []byte{1}}
}

// propose asks a whole-key oracle for a proposal for f.
func propose(o *Oracle, f *wire.TokenFields) (*wire.Proposal, error) {
	return o.Propose(&wire.ProposeRequest{Signers: []uint8{1}, Fields: *f})
}

func code(err error) wire.ErrorCode {
	var we *wire.Error
	if errors.As(err, &we) {
		return we.Code
	}
	return 0
}

func TestSessionProducesVerifiableSignatures(t *testing.T) {
	o, _ := newTestOracle(t)
	if _, err := propose(o, fields()); code(err) != wire.CodeNotReady {
		t.Fatalf("booting oracle proposed: %v", err)
	}
	install(t, o)
	f := fields()
	p, err := propose(o, f)
	if err != nil {
		t.Fatal(err)
	}
	sid := wire.SessionID{1}
	br, err := o.Begin(&wire.BeginRequest{Session: sid, Signers: []uint8{1}, Fields: *f, Proposal: *p})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Round(&wire.RoundRequest{Session: sid, Scheme: wire.SchemeECDSA384, Round: 1}); code(err) != wire.CodeBadRequest {
		t.Fatalf("ECDSA round before attach: %v", err)
	}
	mr, err := o.Round(&wire.RoundRequest{Session: sid, Scheme: wire.SchemeMLDSA65, Round: 1})
	if err != nil {
		t.Fatal(err)
	}
	st := o.Status()
	var mpk mldsa65.PublicKey
	if err := mpk.UnmarshalBinary(st.MLDSAPublicKey); err != nil {
		t.Fatal(err)
	}
	if !mldsa65.Verify(&mpk, br.MLDSASignedAttrs, nil, mr.Payload) {
		t.Fatal("circl rejects the oracle's ML-DSA-65 signature")
	}
	if _, err := o.Round(&wire.RoundRequest{Session: sid, Scheme: wire.SchemeMLDSA65, Round: 1}); code(err) != wire.CodeBadRequest {
		t.Fatalf("second ML-DSA round: %v", err)
	}
	bad := append([]byte(nil), mr.Payload...)
	bad[100] ^= 1
	if _, err := o.Attach(&wire.AttachRequest{Session: sid, MLDSASignature: bad}); code(err) != wire.CodeRefused {
		t.Fatalf("attach with a bad signature: %v", err)
	}
	ar, err := o.Attach(&wire.AttachRequest{Session: sid, MLDSASignature: mr.Payload})
	if err != nil {
		t.Fatal(err)
	}
	// The ECDSA signature comes with Attach, over the attributes it encoded.
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P384(), st.ECDSAPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	d := sha512.Sum384(ar.ECDSASignedAttrs)
	if !ecdsa.VerifyASN1(pub, d[:], ar.ECDSA) {
		t.Fatal("crypto/ecdsa rejects the oracle's signature")
	}
	// The session is gone after Attach.
	for _, req := range []*wire.RoundRequest{
		{Session: sid, Scheme: wire.SchemeECDSA384, Round: 1},
		{Session: sid, Scheme: wire.SchemeMLDSA65, Round: 1},
	} {
		if _, err := o.Round(req); code(err) != wire.CodeUnknownSession {
			t.Fatalf("finished session answered %v: %v", req.Scheme, err)
		}
	}
	if _, err := o.Attach(&wire.AttachRequest{Session: sid, MLDSASignature: mr.Payload}); code(err) != wire.CodeUnknownSession {
		t.Fatalf("finished session attached again: %v", err)
	}
}

func TestReplaysRefused(t *testing.T) {
	o, _ := newTestOracle(t)
	install(t, o)
	f := fields()
	p, _ := propose(o, f)
	if _, err := o.Begin(&wire.BeginRequest{Session: wire.SessionID{1}, Signers: []uint8{1}, Fields: *f, Proposal: *p}); err != nil {
		t.Fatal(err)
	}
	p2, _ := propose(o, f)
	if _, err := o.Begin(&wire.BeginRequest{Session: wire.SessionID{1}, Signers: []uint8{1}, Fields: *f, Proposal: *p2}); code(err) != wire.CodeRefused {
		t.Fatalf("reused session id: %v", err)
	}
	if _, err := o.Begin(&wire.BeginRequest{Session: wire.SessionID{2}, Signers: []uint8{1}, Fields: *f, Proposal: *p}); code(err) != wire.CodeRefused {
		t.Fatalf("reused serial: %v", err)
	}
	if _, err := o.Begin(&wire.BeginRequest{Session: wire.SessionID{3}, Signers: []uint8{1, 2}, Fields: *f, Proposal: *p2}); code(err) != wire.CodeBadRequest {
		t.Fatalf("foreign signer set: %v", err)
	}
}

func TestProposalTimeChecked(t *testing.T) {
	o, _ := newTestOracle(t)
	install(t, o)
	f := fields()
	for i, shift := range []time.Duration{-time.Hour, time.Hour, -12 * time.Second} {
		p, err := propose(o, f)
		if err != nil {
			t.Fatal(err)
		}
		// The leader's clock was off by shift relative to this signer.
		setGenTime(p, genTime(p).Add(shift), []uint8{1})
		if _, err := o.Begin(&wire.BeginRequest{Session: wire.SessionID{byte(i + 10)}, Signers: []uint8{1}, Fields: *f, Proposal: *p}); code(err) != wire.CodeRefused {
			t.Errorf("genTime shifted by %v: %v", shift, err)
		}
	}
	// A proposal claiming a tighter accuracy than this oracle's is refused.
	p, _ := propose(o, f)
	p.AccuracyMicros = 1
	if _, err := o.Begin(&wire.BeginRequest{Session: wire.SessionID{20}, Signers: []uint8{1}, Fields: *f, Proposal: *p}); code(err) != wire.CodeRefused {
		t.Errorf("over-tight accuracy: %v", err)
	}
}

func TestUntrustedClockRefusesAndRecovers(t *testing.T) {
	o, clk := newTestOracle(t)
	install(t, o)
	clk.set(0, false)
	if _, err := propose(o, fields()); code(err) != wire.CodeTimeNotAvailable {
		t.Fatalf("untrusted clock: %v", err)
	}
	if o.Status().ClockTrusted {
		t.Fatal("status claims trusted time")
	}
	clk.set(0, true)
	if _, err := propose(o, fields()); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestHandleNeverPanics(t *testing.T) {
	o, _ := newTestOracle(t)
	install(t, o)
	for typ := 0; typ < 256; typ++ {
		for _, p := range [][]byte{nil, {0}, {0xff, 0xff, 0xff}, make([]byte, 64)} {
			r := o.Handle(wire.Frame{Type: wire.Type(typ), ID: 9, Payload: p})
			if r.ID != 9 {
				t.Fatalf("response id %d", r.ID)
			}
		}
	}
}
