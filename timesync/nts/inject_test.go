package nts

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/timesync/siv"
)

// injector sits between a client and the NTP port of a real server. For each
// request it first sends the client whatever forge returns (an on-path
// attacker who sees the request, so knows its unique identifier and origin
// timestamp, but cannot drop packets), and only then forwards the request to
// the server and relays the genuine reply. The forged packets therefore
// reach the client's socket before the genuine reply by construction.
type injector struct {
	conn net.PacketConn
	mu   sync.Mutex
	// forge returns the packets to inject for one parsed request.
	forge func(req *request) [][]byte
	// dropGenuine, if set, discards the server's reply (an attacker who can
	// also drop: only the forged packets arrive).
	dropGenuine bool
}

func newInjector(t *testing.T, upstream string) *injector {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up, err := net.Dial("udp", upstream)
	if err != nil {
		t.Fatal(err)
	}
	in := &injector{conn: pc}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); up.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		rb := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			in.mu.Lock()
			forge, drop := in.forge, in.dropGenuine
			in.mu.Unlock()
			if req, err := parseRequest(buf[:n]); err == nil && forge != nil {
				for _, p := range forge(req) {
					pc.WriteTo(p, from)
				}
			}
			up.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := up.Write(buf[:n]); err != nil {
				continue
			}
			m, err := up.Read(rb)
			if err != nil || drop {
				continue
			}
			pc.WriteTo(rb[:m], from)
		}
	}()
	return in
}

func (in *injector) set(forge func(*request) [][]byte, dropGenuine bool) {
	in.mu.Lock()
	in.forge, in.dropGenuine = forge, dropGenuine
	in.mu.Unlock()
}

// forgedNAK is an NTS NAK for req as an attacker who saw req builds it: kiss
// code NTSN, the request's transmit time as origin, the request's UID.
func forgedNAK(req *request) []byte {
	h := Header{Version: NTPVersion, Mode: ModeServer, Stratum: 0, RefID: kissNTSN, OrigTime: req.pkt.XmitTime}
	b := AppendHeader(nil, &h)
	return AppendExtField(b, EFUniqueIdentifier, req.uid)
}

// redirectedClient returns a client whose session talks NTP through an
// injector in front of s, after one clean query.
func redirectedClient(t *testing.T) (*Client, *Server, *injector) {
	t.Helper()
	p := newPKI(t)
	s := startServer(t, p, hostNow)
	c := newTestClient(t, p, s.KEAddr())
	if _, err := c.Query(context.Background()); err != nil {
		t.Fatal(err)
	}
	in := newInjector(t, s.NTPAddr())
	c.mu.Lock()
	c.sess.NTPAddr = in.conn.LocalAddr().String()
	c.mu.Unlock()
	return c, s, in
}

// An NTS NAK injected before the genuine reply (RFC 8915 §5.7: a NAK is not
// authenticated) neither ends the exchange nor costs the session its
// cookies: the genuine reply is used and no new NTS-KE happens.
func TestInjectedNAKIgnored(t *testing.T) {
	c, s, in := redirectedClient(t)
	in.set(func(req *request) [][]byte { return [][]byte{forgedNAK(req), forgedNAK(req)} }, false)
	smp, err := c.Query(context.Background())
	if err != nil {
		t.Fatalf("query with an injected NAK: %v", err)
	}
	if smp.CookiesAfter != MaxCookies || c.Cookies() != MaxCookies {
		t.Fatalf("cookies after the query: sample %d, jar %d; want %d", smp.CookiesAfter, c.Cookies(), MaxCookies)
	}
	if _, err := c.Query(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.KEHandshakes != 1 || st.NAKs != 0 || st.NTPResponses != 3 {
		t.Fatalf("server stats %+v, want 1 handshake, no NAK, 3 responses", st)
	}
}

// Every kind of unauthenticated or mismatched packet before the genuine reply
// is skipped.
func TestInjectedPacketsSkipped(t *testing.T) {
	wrongUID := func(req *request) []byte {
		r := *req
		r.uid = bytes.Clone(req.uid)
		r.uid[0] ^= 1
		return forgedNAK(&r)
	}
	wrongOrigin := func(req *request) []byte {
		b := forgedNAK(req)
		b[31] ^= 1
		return b
	}
	forgedReply := func(req *request) []byte {
		// A well-formed, "authenticated" reply under a key the attacker
		// made up, claiming a time far off.
		h := Header{Version: NTPVersion, Mode: ModeServer, Stratum: 1, OrigTime: req.pkt.XmitTime,
			RecvTime: TimestampFromUnixNano(hostNow() + int64(time.Hour)), XmitTime: TimestampFromUnixNano(hostNow() + int64(time.Hour))}
		b := AppendHeader(nil, &h)
		b = AppendExtField(b, EFUniqueIdentifier, req.uid)
		return AppendAuthenticator(b, make([]byte, 16), make([]byte, 16))
	}
	c, s, in := redirectedClient(t)
	in.set(func(req *request) [][]byte {
		return [][]byte{{}, make([]byte, 47), make([]byte, 48), bytes.Repeat([]byte{0xff}, 3000),
			wrongUID(req), wrongOrigin(req), forgedReply(req), forgedNAK(req)}
	}, false)
	smp, err := c.Query(context.Background())
	if err != nil {
		t.Fatalf("query after injected packets: %v", err)
	}
	if abs(smp.Offset) > int64(time.Minute) || c.Cookies() != MaxCookies {
		t.Fatalf("offset %d, cookies %d", smp.Offset, c.Cookies())
	}
	if st := s.Stats(); st.KEHandshakes != 1 {
		t.Fatalf("server stats %+v", st)
	}
}

// When only a NAK arrives (the server's genuine NAK, or a forged one whose
// attacker also drops the reply) the query reports ErrNAK at its deadline and
// the session is dropped, so the next query runs NTS-KE again.
func TestNAKOnlyReportedAtDeadline(t *testing.T) {
	c, s, in := redirectedClient(t)
	in.set(func(req *request) [][]byte { return [][]byte{forgedNAK(req)} }, true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := c.Query(ctx); !errors.Is(err, ErrNAK) {
		t.Fatalf("got %v, want ErrNAK", err)
	}
	if c.Cookies() != 0 {
		t.Fatal("session kept after a NAK-only exchange")
	}
	if _, err := c.Query(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.KEHandshakes != 2 {
		t.Fatalf("server stats %+v, want a second NTS-KE", st)
	}
}

// The read loop is bounded: a flood of more than maxReplyPackets invalid
// packets ends the exchange with ErrTooManyPackets, which is not a NAK, so
// the session and its cookies are kept.
func TestInjectedFloodBounded(t *testing.T) {
	c, s, in := redirectedClient(t)
	in.set(func(req *request) [][]byte {
		// The flood ends in a NAK: it must not read as one.
		out := [][]byte{forgedNAK(req)}
		for len(out) < maxReplyPackets-1 {
			out = append(out, make([]byte, 48))
		}
		return append(out, forgedNAK(req))
	}, false)
	_, err := c.Query(context.Background())
	if !errors.Is(err, ErrTooManyPackets) || errors.Is(err, ErrNAK) {
		t.Fatalf("got %v, want ErrTooManyPackets", err)
	}
	if c.Cookies() != MaxCookies-1 {
		t.Fatalf("%d cookies kept, want %d", c.Cookies(), MaxCookies-1)
	}
	in.set(nil, false)
	if _, err := c.Query(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.KEHandshakes != 1 {
		t.Fatalf("server stats %+v, want no new NTS-KE", st)
	}
}

// Cancelling the query's context ends the wait without reporting a NAK.
func TestCancelledQueryIsNotNAK(t *testing.T) {
	c, _, in := redirectedClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	in.set(func(req *request) [][]byte { cancel(); return [][]byte{forgedNAK(req)} }, true)
	_, err := c.Query(ctx)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrNAK) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if c.Cookies() != MaxCookies-1 {
		t.Fatalf("%d cookies kept, want %d", c.Cookies(), MaxCookies-1)
	}
}

// packetReader returns one queued packet per Read, then a timeout, as a UDP
// socket whose read deadline has passed does.
type packetReader struct {
	pkts  [][]byte
	reads int
}

func (r *packetReader) Read(b []byte) (int, error) {
	r.reads++
	if len(r.pkts) == 0 {
		return 0, os.ErrDeadlineExceeded
	}
	p := r.pkts[0]
	r.pkts = r.pkts[1:]
	return copy(b, p), nil
}

// splitPackets cuts b into packets, each a 2-byte big-endian length then
// that many bytes (the last one possibly short).
func splitPackets(b []byte) [][]byte {
	var out [][]byte
	for len(b) >= 2 {
		n := min(int(binary.BigEndian.Uint16(b)), len(b)-2)
		out = append(out, b[2:2+n])
		b = b[2+n:]
	}
	return out
}

func joinPackets(pkts ...[]byte) []byte {
	var out []byte
	for _, p := range pkts {
		out = binary.BigEndian.AppendUint16(out, uint16(len(p)))
		out = append(out, p...)
	}
	return out
}

// FuzzAwaitReply checks the client's read loop against a reference: the
// first packet checkResponse accepts wins; with none among the first
// maxReplyPackets, a flood is ErrTooManyPackets, a deadline after a NAK is
// ErrNAK, and anything else is neither; never more than maxReplyPackets
// packets are read.
func FuzzAwaitReply(f *testing.F) {
	a, _ := siv.New(make([]byte, 32))
	uid := make([]byte, 32)
	const orig = Timestamp(42)
	h := Header{Version: 4, Mode: ModeServer, Stratum: 1, OrigTime: orig}
	valid := AppendHeader(nil, &h)
	valid = AppendExtField(valid, EFUniqueIdentifier, uid)
	ct, _ := a.Seal(nil, AppendExtField(nil, EFCookie, make([]byte, 100)), valid, make([]byte, 16))
	valid = AppendAuthenticator(valid, make([]byte, 16), ct)
	nak := forgedNAK(&request{pkt: &Packet{Header: Header{XmitTime: orig}}, uid: uid})
	check := func(b []byte) (*response, error) { return checkResponse(b, orig, uid, a) }
	if _, err := check(valid); err != nil {
		f.Fatal(err)
	}
	if _, err := check(nak); !errors.Is(err, ErrNAK) {
		f.Fatal(err)
	}
	f.Add(joinPackets(valid))
	f.Add(joinPackets(nak))
	f.Add(joinPackets(nak, valid))
	f.Add(joinPackets(make([]byte, 48), nak, valid[:len(valid)-1], valid))
	f.Add(joinPackets(slices.Repeat([][]byte{make([]byte, 48)}, maxReplyPackets)...))
	f.Add(joinPackets(append(slices.Repeat([][]byte{nak}, maxReplyPackets), valid)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkts := splitPackets(b)
		want, wantAt, nakSeen := -1, 0, false
		for i, p := range pkts[:min(len(pkts), maxReplyPackets)] {
			_, err := check(p)
			if err == nil {
				want, wantAt = i, i+1
				break
			}
			nakSeen = nakSeen || errors.Is(err, ErrNAK)
		}
		clock := int64(0)
		rd := &packetReader{pkts: pkts}
		r, t4, err := awaitReply(rd, func() int64 { clock++; return clock }, check)
		if rd.reads > maxReplyPackets {
			t.Fatalf("%d reads", rd.reads)
		}
		switch {
		case want >= 0:
			if err != nil || r == nil || t4 != int64(wantAt) {
				t.Fatalf("valid packet %d: got %v at %d, err %v", want, r, t4, err)
			}
		case len(pkts) >= maxReplyPackets:
			if !errors.Is(err, ErrTooManyPackets) || errors.Is(err, ErrNAK) {
				t.Fatalf("flood: got %v", err)
			}
		case nakSeen:
			if !errors.Is(err, ErrNAK) {
				t.Fatalf("NAK then deadline: got %v", err)
			}
		default:
			if err == nil || errors.Is(err, ErrNAK) || errors.Is(err, ErrTooManyPackets) {
				t.Fatalf("no valid packet: got %v", err)
			}
		}
	})
}
