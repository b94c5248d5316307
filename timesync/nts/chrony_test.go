package nts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/timesync/internal/chronytest"
	"github.com/cc-tsa/cc-tsa/timesync/interval"
)

// These tests run real chronyd processes (chrony ≥ 4.0 with NTS) on
// 127.0.0.0/8 high ports, each with its own config, certificate and run
// directory under t.TempDir(). They skip when chronyd is not installed
// (apt-get install -y chrony faketime).

// queryChrony retries briefly: chronyd answers NTP only once its local
// reference is active (a second or so after start-up).
func queryChrony(t *testing.T, c *Client) *Sample {
	t.Helper()
	var last error
	for i := 0; i < 20; i++ {
		s, err := c.Query(context.Background())
		if err == nil {
			return s
		}
		last = err
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("no sample from chronyd: %v", last)
	return nil
}

func TestChronyHonestServer(t *testing.T) {
	p := newPKI(t)
	s := chronytest.StartServer(t, p, "127.0.0.1", "")
	c := newTestClient(t, p, s.KEAddr)
	smp := queryChrony(t, c)
	if abs(smp.Offset) > 50e6 {
		t.Fatalf("chronyd on the same host measured at offset %d ns", smp.Offset)
	}
	if smp.Stratum == 0 || smp.Delay < 0 || smp.CookiesAfter != MaxCookies {
		t.Fatalf("sample %+v", smp)
	}
	// Cookies are replenished: many queries on one NTS-KE session.
	for i := 0; i < 10; i++ {
		if _, err := c.Query(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	m, err := Probe(context.Background(), s.KEAddr, p.Roots, time.Now)
	if err != nil || abs(m.OffsetNS) > 50e6 {
		t.Fatalf("probe %+v %v", m, err)
	}
}

func TestChronyUntrustedCertificateRefused(t *testing.T) {
	p := newPKI(t)
	s := chronytest.StartServer(t, p, "127.0.0.1", "")
	other := newPKI(t)
	_, err := Probe(context.Background(), s.KEAddr, other.Roots, time.Now)
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("untrusted chronyd accepted: %v", err)
	}
}

// udpProxy relays datagrams between one client and upstream, letting the
// test rewrite or replay responses.
type udpProxy struct {
	conn     net.PacketConn
	mu       sync.Mutex
	mutate   func(resp []byte, prev []byte) []byte
	prevResp []byte
}

func newUDPProxy(t *testing.T, upstream string) *udpProxy {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up, err := net.Dial("udp", upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := &udpProxy{conn: pc}
	t.Cleanup(func() { pc.Close(); up.Close() })
	go func() {
		buf := make([]byte, 4096)
		rb := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			up.SetReadDeadline(time.Now().Add(2 * time.Second))
			up.Write(buf[:n])
			m, err := up.Read(rb)
			if err != nil {
				continue
			}
			resp := bytes.Clone(rb[:m])
			p.mu.Lock()
			out := resp
			if p.mutate != nil {
				out = p.mutate(bytes.Clone(resp), p.prevResp)
			}
			p.prevResp = resp
			p.mu.Unlock()
			if out != nil {
				pc.WriteTo(out, from)
			}
		}
	}()
	return p
}

func (p *udpProxy) set(f func(resp, prev []byte) []byte) {
	p.mu.Lock()
	p.mutate = f
	p.mu.Unlock()
}

func TestChronyTamperedAndReplayedResponsesRejected(t *testing.T) {
	p := newPKI(t)
	s := chronytest.StartServer(t, p, "127.0.0.1", "")
	c := newTestClient(t, p, s.KEAddr)
	queryChrony(t, c) // chronyd is serving
	proxy := newUDPProxy(t, s.NTPAddr)
	c.mu.Lock()
	c.sess.NTPAddr = proxy.conn.LocalAddr().String()
	c.mu.Unlock()
	if _, err := c.Query(context.Background()); err != nil {
		t.Fatalf("through the honest proxy: %v", err)
	}
	for _, tc := range []struct {
		name string
		f    func(resp, prev []byte) []byte
		want error
	}{
		{"tampered-transmit", func(r, _ []byte) []byte { r[47] ^= 1; return r }, ErrAuth},
		{"tampered-ciphertext", func(r, _ []byte) []byte { r[len(r)-1] ^= 0x80; return r }, ErrAuth},
		{"replayed", func(r, prev []byte) []byte { return prev }, ErrOrigin},
	} {
		proxy.set(tc.f)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Query(ctx)
		cancel()
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	// Tampered cookie: chronyd cannot decrypt it and answers with an NTS NAK.
	proxy.set(nil)
	c.mu.Lock()
	for i := range c.sess.jar.cookies {
		c.sess.jar.cookies[i][10] ^= 0xff
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := c.Query(ctx); !errors.Is(err, ErrNAK) {
		t.Fatalf("tampered cookie: got %v, want ErrNAK", err)
	}
}

// A chronyd serving time 30 s ahead (libfaketime) is measured at its lie.
func TestChronyLyingServerMeasured(t *testing.T) {
	p := newPKI(t)
	liar := chronytest.StartServer(t, p, "127.0.0.2", "+30s")
	c := newTestClient(t, p, liar.KEAddr)
	smp := queryChrony(t, c)
	if abs(smp.Offset-30e9) > 100e6 {
		t.Fatalf("liar measured at %d ns, want ≈ +30 s", smp.Offset)
	}
}

var chronyWrongBy = regexp.MustCompile(`System clock wrong by (-?[0-9.]+) seconds`)

// chronyd -Q as an NTS client of our server: it authenticates the server
// (ntstrustedcerts) and measures the served clock.
func TestChronyClientOfOurServer(t *testing.T) {
	chronyd := chronytest.Need(t)
	p := newPKI(t)
	const lie = 7 * time.Second
	srv := startServer(t, p, func() int64 { return hostNow() + int64(lie) })
	dir := t.TempDir()
	ca, _, _ := p.WriteFiles(t, dir)
	run := func(dir, ca, timeout string) string {
		_, port, _ := net.SplitHostPort(srv.KEAddr())
		conf := fmt.Sprintf(`user root
pidfile %[1]s/client.pid
ntsdumpdir %[1]s
cmdport 0
port 0
server 127.0.0.1 nts ntsport %[2]s iburst maxsamples 1
ntstrustedcerts %[3]s
`, dir, port, ca)
		cf := filepath.Join(dir, "client.conf")
		if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		done := chronytest.StartProc(t, []string{chronyd, "-Q", "-d", "-t", timeout, "-f", cf}, &out)
		<-done // chronyd -Q exits after one measurement or its -t timeout
		return out.String()
	}
	out := run(dir, ca, "10")
	m := chronyWrongBy.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("chronyd -Q did not measure our server:\n%s", out)
	}
	wrong, _ := strconv.ParseFloat(m[1], 64)
	// chronyd reports how wrong the local clock is: server − local = +7 s.
	if d := wrong - lie.Seconds(); d > 0.1 || d < -0.1 {
		t.Fatalf("chronyd measured %v s, want %v s", wrong, lie.Seconds())
	}
	if st := srv.Stats(); st.KEHandshakes < 1 || st.NTPResponses < 1 {
		t.Fatalf("server stats %+v", st)
	}
	// With a CA it does not trust (and a fresh ntsdumpdir, so no saved
	// cookies), chronyd must not obtain a measurement.
	other := newPKI(t)
	odir := t.TempDir()
	oca, _, _ := other.WriteFiles(t, odir)
	before := srv.Stats().NTPResponses
	out = run(odir, oca, "3")
	if chronyWrongBy.MatchString(out) || srv.Stats().NTPResponses != before {
		t.Fatalf("chronyd measured a server it should not trust:\n%s", out)
	}
}

// Two honest chronyd servers out-vote a third that lies by +30 s (libfaketime).
func TestChronyLiarOutvoted(t *testing.T) {
	p := newPKI(t)
	servers := map[string]*chronytest.Server{
		"honest-1": chronytest.StartServer(t, p, "127.0.0.1", ""),
		"liar":     chronytest.StartServer(t, p, "127.0.0.2", "+30s"),
		"honest-2": chronytest.StartServer(t, p, "127.0.0.3", ""),
	}
	var srcs []interval.Source
	for name, s := range servers {
		smp := queryChrony(t, newTestClient(t, p, s.KEAddr))
		srcs = append(srcs, interval.Source{Name: name, Interval: interval.Around(smp.Offset, smp.Uncertainty())})
	}
	res, err := interval.Combine(srcs, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Falsetickers, []string{"liar"}) || len(res.Agreeing) != 2 {
		t.Fatalf("result %+v from %+v", res, srcs)
	}
	if !res.Interval.Contains(0) && (res.Interval.Lo > 50e6 || res.Interval.Hi < -50e6) {
		t.Fatalf("combined interval %v far from the honest servers", res.Interval)
	}
}
