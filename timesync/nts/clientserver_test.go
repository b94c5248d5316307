package nts

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestHonestServer(t *testing.T) {
	p := newPKI(t)
	s := startServer(t, p, hostNow)
	c := newTestClient(t, p, s.KEAddr())
	for i := 0; i < 3; i++ {
		smp, err := c.Query(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if abs(smp.Offset) > 20e6 {
			t.Errorf("offset %d ns against a server on the same clock", smp.Offset)
		}
		if smp.Delay < 0 || smp.Uncertainty() < smp.Delay/2 {
			t.Errorf("delay %d, uncertainty %d", smp.Delay, smp.Uncertainty())
		}
		if abs(smp.Offset) > smp.Uncertainty()+1e6 {
			t.Errorf("truth (0) outside [%d ± %d]", smp.Offset, smp.Uncertainty())
		}
		if smp.CookiesAfter != MaxCookies {
			t.Errorf("cookie jar holds %d after a query, want %d (replenishment)", smp.CookiesAfter, MaxCookies)
		}
	}
	if st := s.Stats(); st.KEHandshakes != 1 || st.NTPResponses != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestOffsetServerMeasuredAtItsLie(t *testing.T) {
	p := newPKI(t)
	const lie = int64(30 * time.Second)
	s := startServer(t, p, func() int64 { return hostNow() + lie })
	m, err := Probe(context.Background(), s.KEAddr(), p.Roots, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if abs(m.OffsetNS-lie) > 20e6 {
		t.Fatalf("offset %d, want ≈ %d", m.OffsetNS, lie)
	}
	if m.UncertaintyNS <= 0 || m.DelayNS < 0 || m.NTPServer == "" || m.Cookies != MaxCookies {
		t.Fatalf("measurement %+v", m)
	}
}

func TestUntrustedCertificateRefused(t *testing.T) {
	p := newPKI(t)
	other := newPKI(t)
	s := startServer(t, p, hostNow)
	_, err := Probe(context.Background(), s.KEAddr(), other.Roots, time.Now)
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ua) {
		t.Fatalf("untrusted server accepted or wrong error: %v", err)
	}
	if st := s.Stats(); st.NTPResponses != 0 {
		t.Fatal("NTP exchange happened with an unauthenticated server")
	}
	// Empty roots must not fall back to the system pool.
	if _, err := NewClient(s.KEAddr(), ClientConfig{KEConfig: KEConfig{CertTime: time.Now}, Now: hostNow}); err == nil {
		t.Fatal("client without roots accepted")
	}
}

// Certificate validity is judged by the node's clock (CertTime), not the host's.
func TestCertificateTimeFromNodeClock(t *testing.T) {
	p := newPKI(t)
	s := startServer(t, p, hostNow)
	late := func() time.Time { return p.NotAfter.Add(time.Hour) }
	_, err := Probe(context.Background(), s.KEAddr(), p.Roots, late)
	var ci x509.CertificateInvalidError
	if !errors.As(err, &ci) || ci.Reason != x509.Expired {
		t.Fatalf("expired (by node time) certificate accepted or wrong error: %v", err)
	}
	early := func() time.Time { return p.NotBefore.Add(-time.Hour) }
	if _, err := Probe(context.Background(), s.KEAddr(), p.Roots, early); !errors.As(err, &ci) {
		t.Fatalf("not-yet-valid certificate accepted: %v", err)
	}
}

func TestWrongServerName(t *testing.T) {
	p := newPKI(t)
	s := startServer(t, p, hostNow)
	c, _ := NewClient(s.KEAddr(), ClientConfig{KEConfig: KEConfig{Roots: p.Roots, CertTime: time.Now, ServerName: "wrong.example"}, Now: hostNow})
	defer c.Close()
	var hn x509.HostnameError
	if _, err := c.Query(context.Background()); !errors.As(err, &hn) {
		t.Fatalf("wrong name accepted: %v", err)
	}
}

func TestTamperedResponseRejected(t *testing.T) {
	for _, tc := range []struct {
		name string
		pos  func(b []byte) int
		want error
	}{
		{"transmit-timestamp", func(b []byte) int { return 44 }, ErrAuth},
		{"receive-timestamp", func(b []byte) int { return 36 }, ErrAuth},
		{"stratum", func(b []byte) int { return 1 }, ErrAuth},
		{"origin", func(b []byte) int { return 30 }, ErrOrigin},
		{"uid", func(b []byte) int { return HeaderLen + 8 }, ErrUID},
		{"ciphertext", func(b []byte) int { return len(b) - 20 }, ErrAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPKI(t)
			s := startServer(t, p, hostNow)
			c := newTestClient(t, p, s.KEAddr())
			if _, err := c.Query(context.Background()); err != nil {
				t.Fatal(err)
			}
			s.SetFaults(Faults{Tamper: func(b []byte) []byte { b[tc.pos(b)] ^= 0x01; return b }})
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := c.Query(ctx)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReplayedResponseRejected(t *testing.T) {
	p := newPKI(t)
	s := startServer(t, p, hostNow)
	c := newTestClient(t, p, s.KEAddr())
	if _, err := c.Query(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.SetFaults(Faults{Replay: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := c.Query(ctx); !errors.Is(err, ErrOrigin) {
		t.Fatalf("replayed response: got %v, want ErrOrigin", err)
	}
}

func TestNAKTriggersRekey(t *testing.T) {
	p := newPKI(t)
	s := startServer(t, p, hostNow)
	c := newTestClient(t, p, s.KEAddr())
	if _, err := c.Query(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.SetFaults(Faults{NAK: true})
	// The NAK is unauthenticated, so the client waits for an authenticated
	// reply until the deadline and only then reports it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := c.Query(ctx); !errors.Is(err, ErrNAK) {
		t.Fatalf("got %v, want ErrNAK", err)
	}
	if c.Cookies() != 0 {
		t.Fatal("cookies kept after NAK")
	}
	s.SetFaults(Faults{})
	if _, err := c.Query(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.KEHandshakes != 2 || st.NAKs != 1 {
		t.Fatalf("stats %+v, want 2 handshakes and 1 NAK", st)
	}
}

func TestCookieExhaustionRekeys(t *testing.T) {
	p := newPKI(t)
	s := startServer(t, p, hostNow)
	s.SetFaults(Faults{ReplyCookies: -1})
	c := newTestClient(t, p, s.KEAddr())
	for i := 0; i < MaxCookies; i++ {
		smp, err := c.Query(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if smp.CookiesAfter != MaxCookies-1-i {
			t.Fatalf("query %d: %d cookies left", i, smp.CookiesAfter)
		}
	}
	if st := s.Stats(); st.KEHandshakes != 1 {
		t.Fatalf("handshakes %d", st.KEHandshakes)
	}
	if _, err := c.Query(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.KEHandshakes != 2 {
		t.Fatalf("jar exhausted but no new NTS-KE (handshakes %d)", st.KEHandshakes)
	}
	// A server that hands out no cookies at all is refused at NTS-KE.
	s.SetFaults(Faults{KECookies: -1})
	c2 := newTestClient(t, p, s.KEAddr())
	if _, err := c2.Query(context.Background()); err == nil || !strings.Contains(err.Error(), "no cookies") {
		t.Fatalf("got %v", err)
	}
}

func TestMalformedKERecords(t *testing.T) {
	unknownCrit := func(r []Record) []Record {
		return append([]Record{{Critical: true, Type: 0x1234, Body: []byte{1}}}, r...)
	}
	replace := func(typ uint16, nr Record) func([]Record) []Record {
		return func(rs []Record) []Record {
			var out []Record
			for _, r := range rs {
				if r.Type == typ {
					out = append(out, nr)
				} else {
					out = append(out, r)
				}
			}
			return out
		}
	}
	drop := func(typ uint16) func([]Record) []Record {
		return func(rs []Record) []Record {
			var out []Record
			for _, r := range rs {
				if r.Type != typ {
					out = append(out, r)
				}
			}
			return out
		}
	}
	prepend := func(nr Record) func([]Record) []Record {
		return func(rs []Record) []Record { return append([]Record{nr}, rs...) }
	}
	for _, tc := range []struct {
		name  string
		hook  func([]Record) []Record
		check func(error) bool
	}{
		{"unknown-critical", unknownCrit, func(e error) bool { var u *UnrecognizedCriticalError; return errors.As(e, &u) && u.Type == 0x1234 }},
		{"error-record", prepend(Record{Critical: true, Type: RecError, Body: []byte{0, 1}}), func(e error) bool { var x *ErrorRecordError; return errors.As(e, &x) && x.Code == 1 }},
		{"warning-record", prepend(Record{Critical: true, Type: RecWarning, Body: []byte{0, 7}}), func(e error) bool { var x *WarningRecordError; return errors.As(e, &x) && x.Code == 7 }},
		{"no-aead", drop(RecAEAD), func(e error) bool { return e != nil && strings.Contains(e.Error(), "AEAD") }},
		{"wrong-aead", replace(RecAEAD, Record{Critical: true, Type: RecAEAD, Body: []byte{0, 16}}), func(e error) bool { return e != nil && strings.Contains(e.Error(), "AEAD") }},
		{"no-next-protocol", drop(RecNextProtocol), func(e error) bool { var d *DecodeError; return errors.As(e, &d) }},
		{"next-protocol-not-critical", replace(RecNextProtocol, Record{Type: RecNextProtocol, Body: []byte{0, 0}}), func(e error) bool { var d *DecodeError; return errors.As(e, &d) }},
		{"odd-aead-list", replace(RecAEAD, Record{Critical: true, Type: RecAEAD, Body: []byte{0, 15, 0}}), func(e error) bool { var d *DecodeError; return errors.As(e, &d) }},
		{"port-zero", replace(RecPort, Record{Type: RecPort, Body: []byte{0, 0}}), func(e error) bool { var d *DecodeError; return errors.As(e, &d) }},
		{"bad-server-name", prepend(Record{Type: RecServer, Body: []byte("bad name!")}), func(e error) bool { var d *DecodeError; return errors.As(e, &d) }},
		{"eom-missing", drop(RecEndOfMessage), func(e error) bool { return e != nil }},
		{"critical-cookie", replace(RecNewCookie, Record{Critical: true, Type: RecNewCookie, Body: make([]byte, 100)}), func(e error) bool { var d *DecodeError; return errors.As(e, &d) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPKI(t)
			s := startServer(t, p, hostNow)
			s.SetFaults(Faults{KEResponse: tc.hook})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, err := KeyExchange(ctx, s.KEAddr(), KEConfig{Roots: p.Roots, CertTime: time.Now})
			if !tc.check(err) {
				t.Fatalf("unexpected result: %v", err)
			}
		})
	}
}

// Unknown non-critical records are ignored, and Server/Port negotiation is
// honoured: the server redirects the client to its NTP port.
func TestKENegotiationRecords(t *testing.T) {
	p := newPKI(t)
	s := startServer(t, p, hostNow)
	s.SetFaults(Faults{KEResponse: func(r []Record) []Record {
		return append([]Record{{Type: 0x4321, Body: []byte("ignored")}, {Type: RecServer, Body: []byte("127.0.0.1")}}, r...)
	}})
	sess, err := KeyExchange(context.Background(), s.KEAddr(), KEConfig{Roots: p.Roots, CertTime: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	_, port, _ := net.SplitHostPort(s.NTPAddr())
	if sess.NTPAddr != net.JoinHostPort("127.0.0.1", port) || sess.Cookies() != 8 {
		t.Fatalf("session NTP %s cookies %d", sess.NTPAddr, sess.Cookies())
	}
}

func TestDelayAttackWidensInterval(t *testing.T) {
	p := newPKI(t)
	s := startServer(t, p, hostNow)
	c := newTestClient(t, p, s.KEAddr())
	const d = int64(150 * time.Millisecond)
	s.SetFaults(Faults{ReturnDelay: time.Duration(d)})
	smp, err := c.Query(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The held-back reply biases the offset by −d/2, but the interval stays
	// honest: it still contains the truth (0) and is at least d/2 wide.
	if smp.Delay < d || smp.Uncertainty() < d/2 {
		t.Fatalf("delay %d uncertainty %d, want ≥ %d", smp.Delay, smp.Uncertainty(), d)
	}
	if abs(smp.Offset) > smp.Uncertainty() {
		t.Fatalf("truth outside interval: offset %d ± %d", smp.Offset, smp.Uncertainty())
	}
	if smp.Offset > -d/2+20e6 {
		t.Fatalf("offset %d, expected bias ≈ %d", smp.Offset, -d/2)
	}
}

func TestServerRejectsBadRequests(t *testing.T) {
	p := newPKI(t)
	s := startServer(t, p, hostNow)
	c := newTestClient(t, p, s.KEAddr())
	if _, err := c.Query(context.Background()); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp", s.NTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A structurally valid request under a key the server never issued: the
	// cookie is unknown → NAK; a valid cookie with a wrong authenticator → no reply.
	sess, err := KeyExchange(context.Background(), s.KEAddr(), KEConfig{Roots: p.Roots, CertTime: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	uid := make([]byte, 32)
	nonce := make([]byte, 16)
	req, _ := buildRequest(1, uid, sess.jar.Take(), 0, sess.s2c /* wrong direction key */, nonce)
	garbage := [][]byte{{}, make([]byte, 47), make([]byte, 48), req}
	for _, g := range garbage {
		conn.Write(g)
	}
	conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 2048)
	if n, err := conn.Read(buf); err == nil {
		t.Fatalf("server answered an invalid request with %d bytes", n)
	}
	if st := s.Stats(); st.NTPRejects != len(garbage) || st.NTPResponses != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSessionMaxAge(t *testing.T) {
	p := newPKI(t)
	s := startServer(t, p, hostNow)
	var skew atomic.Int64
	c, err := NewClient(s.KEAddr(), ClientConfig{
		KEConfig:      KEConfig{Roots: p.Roots, CertTime: time.Now},
		Now:           func() int64 { return hostNow() + skew.Load() },
		MaxSessionAge: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 2; i++ {
		if _, err := c.Query(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.KEHandshakes != 1 {
		t.Fatalf("handshakes %d", st.KEHandshakes)
	}
	skew.Store(int64(2 * time.Hour))
	if _, err := c.Query(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.KEHandshakes != 2 {
		t.Fatalf("old session not renewed: handshakes %d", st.KEHandshakes)
	}
}
