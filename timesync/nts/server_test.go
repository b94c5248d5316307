package nts

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/timesync/siv"
)

// rawKE sends raw NTS-KE request bytes and returns the parsed response.
func rawKE(t *testing.T, p *testPKI, addr string, req []byte) *KEMessage {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.Roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13, NextProtos: []string{ALPN}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	raw, err := ReadMessage(c)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseKEMessage(raw, true)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestServerKEErrors(t *testing.T) {
	p := newPKI(t)
	s := startServer(t, p, hostNow)
	enc := func(rs ...Record) []byte {
		var b []byte
		for _, r := range rs {
			b, _ = AppendRecord(b, r)
		}
		return b
	}
	np := Record{Critical: true, Type: RecNextProtocol, Body: []byte{0, 0}}
	aead := Record{Critical: true, Type: RecAEAD, Body: []byte{0, 15}}
	eom := Record{Critical: true, Type: RecEndOfMessage}
	// Unknown critical record → Error 0 (unrecognized critical record).
	m := rawKE(t, p, s.KEAddr(), enc(np, aead, Record{Critical: true, Type: 0x2222}, eom))
	if len(m.Errors) != 1 || m.Errors[0] != ErrCodeUnrecognizedCritical || len(m.Cookies) != 0 {
		t.Fatalf("%+v", m)
	}
	// Unknown non-critical record is ignored.
	m = rawKE(t, p, s.KEAddr(), enc(np, aead, Record{Type: 0x2222, Body: []byte("x")}, eom))
	if len(m.Errors) != 0 || len(m.Cookies) != 8 {
		t.Fatalf("%+v", m)
	}
	// No AEAD record → Error 1 (bad request).
	m = rawKE(t, p, s.KEAddr(), enc(np, eom))
	if len(m.Errors) != 1 || m.Errors[0] != ErrCodeBadRequest {
		t.Fatalf("%+v", m)
	}
	// Unsupported protocol/AEAD → empty selections, no cookies.
	m = rawKE(t, p, s.KEAddr(), enc(Record{Critical: true, Type: RecNextProtocol, Body: []byte{0x80, 1}},
		Record{Critical: true, Type: RecAEAD, Body: []byte{0, 1}}, eom))
	if len(m.NextProtocols) != 0 || len(m.AEADs) != 0 || len(m.Cookies) != 0 {
		t.Fatalf("%+v", m)
	}
	// A client refuses a connection without the ntske/1 ALPN.
	c, err := tls.Dial("tcp", s.KEAddr(), &tls.Config{RootCAs: p.Roots, ServerName: "127.0.0.1", NextProtos: []string{"h2"}})
	if err == nil {
		c.Close()
		t.Fatal("server accepted a connection without ALPN ntske/1")
	}
}

func TestDevServer(t *testing.T) {
	d, err := StartDevServer("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	m, err := Probe(context.Background(), d.KEAddr(), d.Roots, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if abs(m.OffsetNS) > 20e6 || d.Label != DevLabel {
		t.Fatalf("%+v", m)
	}
	if _, err := StartDevServer("0.0.0.0:0", ""); err == nil {
		t.Fatal("dev server on a non-loopback address")
	}
	// The dev server's certificate is not trusted by anyone else.
	other := newPKI(t)
	if _, err := Probe(context.Background(), d.KEAddr(), other.Roots, time.Now); err == nil {
		t.Fatal("dev server authenticated against unrelated roots")
	}
}

// FuzzServerRespond feeds arbitrary datagrams to the server's request path.
func FuzzServerRespond(f *testing.F) {
	p := newPKI(f)
	s, err := NewServer(ServerConfig{Certificate: p.Cert, Now: hostNow})
	if err != nil {
		f.Fatal(err)
	}
	ck, _ := s.makeCookie(make([]byte, 32), make([]byte, 32))
	a, _ := siv.New(make([]byte, 32))
	req, _ := buildRequest(7, make([]byte, 32), ck, 1, a, make([]byte, 16))
	if _, err := s.respond(req, hostNow(), Faults{}); err != nil {
		f.Fatal(err)
	}
	f.Add(req)
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := s.respond(b, 1, Faults{})
		if err != nil {
			return
		}
		if _, err := DecodePacket(resp); err != nil {
			t.Fatalf("server produced an undecodable response: %v", err)
		}
		if len(resp) > len(b)+64 {
			t.Fatalf("amplification: %d-byte response to %d-byte request", len(resp), len(b))
		}
	})
}

func TestCookieKeyRotation(t *testing.T) {
	p := newPKI(t)
	s := startServer(t, p, hostNow)
	c := newTestClient(t, p, s.KEAddr())
	if _, err := c.Query(context.Background()); err != nil {
		t.Fatal(err)
	}
	// One rotation: cookies under the previous key still work.
	if err := s.RotateKey(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(context.Background()); err != nil {
		t.Fatalf("cookie under the previous key rejected: %v", err)
	}
	// Two more rotations: the jar still holds cookies from the first key
	// generation and the second → NAK, then re-KE recovers.
	s.RotateKey()
	s.RotateKey()
	if _, err := c.Query(context.Background()); !errors.Is(err, ErrNAK) {
		t.Fatalf("expired cookie: got %v, want ErrNAK", err)
	}
	if _, err := c.Query(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.KEHandshakes != 2 {
		t.Fatalf("handshakes %d", st.KEHandshakes)
	}
}
