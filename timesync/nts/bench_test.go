package nts

import (
	"context"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/timesync/siv"
)

// BenchmarkQuery measures one authenticated NTP exchange over loopback
// (client build + server respond + client verify), cookies replenished.
func BenchmarkQuery(b *testing.B) {
	p := newPKI(b)
	s := startServer(b, p, hostNow)
	c := newTestClient(b, p, s.KEAddr())
	ctx := context.Background()
	if _, err := c.Query(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Query(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeyExchange measures a full NTS-KE (TLS 1.3 handshake, records,
// exporter keys, 8 cookies) over loopback.
func BenchmarkKeyExchange(b *testing.B) {
	p := newPKI(b)
	s := startServer(b, p, hostNow)
	cfg := KEConfig{Roots: p.Roots, CertTime: time.Now}
	for b.Loop() {
		sess, err := KeyExchange(context.Background(), s.KEAddr(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		sess.Close()
	}
}

// BenchmarkServerRespond measures the server's CPU cost per request.
func BenchmarkServerRespond(b *testing.B) {
	p := newPKI(b)
	s, _ := NewServer(ServerConfig{Certificate: p.Cert, Now: hostNow})
	ck, _ := s.makeCookie(make([]byte, 32), make([]byte, 32))
	a, _ := siv.New(make([]byte, 32))
	req, _ := buildRequest(7, make([]byte, 32), ck, 0, a, make([]byte, 16))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.respond(req, 1, Faults{}); err != nil {
			b.Fatal(err)
		}
	}
}
