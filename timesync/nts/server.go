package nts

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/cc-tsa/cc-tsa/timesync/siv"
)

// cookie layout: keyID(4) ‖ nonce(16) ‖ SIV_master(c2s ‖ s2c) = 100 bytes.
const (
	cookieNonceLen = 16
	cookieLen      = 4 + cookieNonceLen + tagLen + 2*KeyLen
	keCookies      = 8
	keTimeout      = 10 * time.Second
	maxInflight    = 64
)

// Faults are fault-injection hooks for tests of clients against a hostile or
// broken server. The zero value is an honest server.
type Faults struct {
	// KEResponse, if set, rewrites the records of every NTS-KE response
	// before they are encoded (malformed or hostile records).
	KEResponse func([]Record) []Record
	// KECookies overrides the number of cookies in an NTS-KE response when
	// non-zero; negative means none.
	KECookies int
	// ReplyCookies overrides the number of cookies returned per NTP reply
	// when non-zero; negative means none (cookie exhaustion).
	ReplyCookies int
	// ForwardDelay holds a request before it is time-stamped (T2): a network
	// delay on the client → server path.
	ForwardDelay time.Duration
	// ReturnDelay holds a response after it is time-stamped (T3): a network
	// delay on the server → client path.
	ReturnDelay time.Duration
	// Tamper, if set, rewrites every encoded NTP response.
	Tamper func([]byte) []byte
	// Replay answers every request with the previous response sent.
	Replay bool
	// NAK answers every request with an NTS NAK.
	NAK bool
	// Drop silently drops every NTP request.
	Drop bool
}

// ServerConfig configures a Server.
type ServerConfig struct {
	// KEAddr and NTPAddr are the listen addresses (default 127.0.0.1:0).
	KEAddr, NTPAddr string
	// Certificate is the NTS-KE TLS certificate (required).
	Certificate tls.Certificate
	// Now is the served clock in ns since the Unix epoch (required).
	Now func() int64
	// AdvertiseHost, if set, is sent as the NTPv4 Server Negotiation record.
	AdvertiseHost string
	// Stratum (default 1) and RefID describe the served clock.
	Stratum uint8
	RefID   uint32
	// RootDispersion in ns is reported in every response.
	RootDispersion time.Duration
	// Logf receives diagnostics (optional).
	Logf func(format string, args ...any)
}

// Server is an NTS-KE plus authenticated NTPv4 server serving a given clock.
// It is meant for tests (with Faults) and for development mode on loopback.
type Server struct {
	cfg  ServerConfig
	keys [2]cookieKey // current and previous cookie master keys (under mu)

	mu       sync.Mutex
	faults   Faults
	lastResp []byte

	keLn    net.Listener
	udp     net.PacketConn
	wg      sync.WaitGroup
	closing chan struct{}
	sem     chan struct{}
	stats   ServerStats
}

// ServerStats counts server events (for tests and status pages).
type ServerStats struct {
	KEHandshakes, KEErrors         int
	NTPResponses, NTPRejects, NAKs int
}

// NewServer validates cfg and creates a server with a fresh random cookie
// master key. Call Start to listen.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Now == nil {
		return nil, errors.New("nts: ServerConfig.Now is required")
	}
	if len(cfg.Certificate.Certificate) == 0 {
		return nil, errors.New("nts: ServerConfig.Certificate is required")
	}
	if cfg.KEAddr == "" {
		cfg.KEAddr = "127.0.0.1:0"
	}
	if cfg.NTPAddr == "" {
		cfg.NTPAddr = "127.0.0.1:0"
	}
	if cfg.Stratum == 0 {
		cfg.Stratum = 1
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	k, err := newCookieKey(0)
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, keys: [2]cookieKey{k},
		closing: make(chan struct{}), sem: make(chan struct{}, maxInflight)}, nil
}

// cookieKey is one cookie master key with its identifier.
type cookieKey struct {
	id     uint32
	master *siv.AEAD
}

func newCookieKey(prevID uint32) (cookieKey, error) {
	var k [4 + 64]byte
	defer clear(k[:])
	if _, err := rand.Read(k[:]); err != nil {
		return cookieKey{}, fmt.Errorf("nts: random: %w", err)
	}
	id := binary.BigEndian.Uint32(k[:4])
	if id == prevID || id == 0 {
		id = prevID + 1
	}
	m, err := siv.New(k[4:])
	if err != nil {
		return cookieKey{}, err
	}
	return cookieKey{id: id, master: m}, nil
}

// RotateKey replaces the cookie master key. Cookies issued under the
// previous key stay valid until the next rotation; older ones get an NTS
// NAK. Call it periodically (e.g. daily) to bound the life of a cookie.
func (s *Server) RotateKey() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := newCookieKey(s.keys[0].id)
	if err != nil {
		return err
	}
	s.keys[1], s.keys[0] = s.keys[0], k
	return nil
}

// SetFaults replaces the fault-injection hooks.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

func (s *Server) getFaults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Start opens the NTS-KE (TCP) and NTP (UDP) listeners and serves until Close.
func (s *Server) Start() error {
	udp, err := net.ListenPacket("udp", s.cfg.NTPAddr)
	if err != nil {
		return fmt.Errorf("nts: server: %w", err)
	}
	tc := &tls.Config{
		Certificates: []tls.Certificate{s.cfg.Certificate},
		MinVersion:   tls.VersionTLS13,
		NextProtos:   []string{ALPN},
	}
	ln, err := tls.Listen("tcp", s.cfg.KEAddr, tc)
	if err != nil {
		udp.Close()
		return fmt.Errorf("nts: server: %w", err)
	}
	s.udp, s.keLn = udp, ln
	s.wg.Add(2)
	go s.serveKE()
	go s.serveNTP()
	return nil
}

// KEAddr returns the NTS-KE listen address.
func (s *Server) KEAddr() string { return s.keLn.Addr().String() }

// NTPAddr returns the NTP listen address.
func (s *Server) NTPAddr() string { return s.udp.LocalAddr().String() }

// Close stops the server and waits for its goroutines.
func (s *Server) Close() error {
	select {
	case <-s.closing:
		return nil
	default:
	}
	close(s.closing)
	var err error
	if s.keLn != nil {
		err = s.keLn.Close()
	}
	if s.udp != nil {
		if e := s.udp.Close(); err == nil {
			err = e
		}
	}
	s.wg.Wait()
	return err
}

func (s *Server) serveKE() {
	defer s.wg.Done()
	for {
		c, err := s.keLn.Accept()
		if err != nil {
			select {
			case <-s.closing:
				return
			default:
			}
			s.cfg.Logf("nts server: accept: %v", err)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			if err := s.handleKE(c.(*tls.Conn)); err != nil {
				s.mu.Lock()
				s.stats.KEErrors++
				s.mu.Unlock()
				s.cfg.Logf("nts server: NTS-KE: %v", err)
			}
		}()
	}
}

func (s *Server) handleKE(c *tls.Conn) error {
	c.SetDeadline(time.Now().Add(keTimeout))
	ctx, cancel := context.WithTimeout(context.Background(), keTimeout)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		return err
	}
	cs := c.ConnectionState()
	if cs.NegotiatedProtocol != ALPN {
		return fmt.Errorf("client did not negotiate %s", ALPN)
	}
	raw, err := ReadMessage(c)
	if err != nil {
		return err
	}
	f := s.getFaults()
	reply := &KEMessage{}
	req, perr := ParseKEMessage(raw, false)
	var uce *UnrecognizedCriticalError
	switch {
	case errors.As(perr, &uce):
		reply.Errors = []uint16{ErrCodeUnrecognizedCritical}
	case perr != nil || len(req.Errors) > 0 || len(req.Warnings) > 0 || !req.HasAEAD:
		reply.Errors = []uint16{ErrCodeBadRequest}
	}
	if reply.Errors == nil {
		reply.NextProtocols = []uint16{}
		for _, p := range req.NextProtocols {
			if p == ProtocolNTPv4 {
				reply.NextProtocols = []uint16{ProtocolNTPv4}
			}
		}
		reply.HasAEAD, reply.AEADs = true, []uint16{}
		for _, a := range req.AEADs {
			if a == AEADAESSIVCMAC256 {
				reply.AEADs = []uint16{AEADAESSIVCMAC256}
			}
		}
	}
	if len(reply.NextProtocols) == 1 && len(reply.AEADs) == 1 {
		c2s, s2c, err := exportKeys(&cs, AEADAESSIVCMAC256)
		if err != nil {
			return err
		}
		n := keCookies
		if f.KECookies != 0 {
			n = max(f.KECookies, 0)
		}
		for i := 0; i < n; i++ {
			ck, err := s.makeCookie(c2s, s2c)
			if err != nil {
				return err
			}
			reply.Cookies = append(reply.Cookies, ck)
		}
		clear(c2s)
		clear(s2c)
		if s.cfg.AdvertiseHost != "" {
			reply.Server = s.cfg.AdvertiseHost
		}
		_, ps, _ := net.SplitHostPort(s.NTPAddr())
		p, _ := strconv.Atoi(ps)
		if p != DefaultNTPPort {
			reply.Port, reply.HasPort = uint16(p), true
		}
	}
	var out []byte
	if f.KEResponse != nil {
		recs, err := DecodeRecords(mustEncode(reply))
		if err != nil {
			return err
		}
		for _, r := range f.KEResponse(recs) {
			if out, err = AppendRecord(out, r); err != nil {
				return err
			}
		}
	} else if out, err = reply.Encode(); err != nil {
		return err
	}
	s.mu.Lock()
	s.stats.KEHandshakes++
	s.mu.Unlock()
	if _, err := c.Write(out); err != nil {
		return err
	}
	if perr != nil {
		return fmt.Errorf("rejected request: %w", perr)
	}
	return nil
}

func mustEncode(m *KEMessage) []byte {
	b, err := m.Encode()
	if err != nil {
		return nil
	}
	return b
}

func (s *Server) makeCookie(c2s, s2c []byte) ([]byte, error) {
	ck := make([]byte, 4+cookieNonceLen, cookieLen)
	s.mu.Lock()
	k := s.keys[0]
	s.mu.Unlock()
	binary.BigEndian.PutUint32(ck, k.id)
	if _, err := rand.Read(ck[4:]); err != nil {
		return nil, err
	}
	pt := make([]byte, 0, 2*KeyLen)
	pt = append(append(pt, c2s...), s2c...)
	defer clear(pt)
	return k.master.Seal(ck, pt, ck[:4], ck[4:4+cookieNonceLen])
}

// openCookie recovers (c2s, s2c) from a cookie.
func (s *Server) openCookie(ck []byte) (c2s, s2c []byte, err error) {
	if len(ck) != cookieLen {
		return nil, nil, errors.New("cookie of wrong length")
	}
	s.mu.Lock()
	keys := s.keys
	s.mu.Unlock()
	var master *siv.AEAD
	for _, k := range keys {
		if k.master != nil && k.id == binary.BigEndian.Uint32(ck) {
			master = k.master
		}
	}
	if master == nil {
		return nil, nil, errors.New("cookie under an unknown key")
	}
	pt, err := master.Open(nil, ck[4+cookieNonceLen:], ck[:4], ck[4:4+cookieNonceLen])
	if err != nil {
		return nil, nil, err
	}
	return pt[:KeyLen:KeyLen], pt[KeyLen:], nil
}

func (s *Server) serveNTP() {
	defer s.wg.Done()
	buf := make([]byte, MaxPacketLen+1)
	for {
		n, addr, err := s.udp.ReadFrom(buf)
		if err != nil {
			select {
			case <-s.closing:
				return
			default:
			}
			continue
		}
		t2 := s.cfg.Now()
		pkt := append([]byte(nil), buf[:n]...)
		select {
		case s.sem <- struct{}{}:
		default:
			continue // overloaded: drop
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			s.handleNTP(pkt, addr, t2)
		}()
	}
}

func (s *Server) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.closing:
		return false
	}
}

func (s *Server) count(f func(*ServerStats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

func (s *Server) handleNTP(pkt []byte, addr net.Addr, t2 int64) {
	f := s.getFaults()
	if f.Drop {
		return
	}
	if f.ForwardDelay > 0 {
		if !s.sleep(f.ForwardDelay) {
			return
		}
		t2 = s.cfg.Now()
	}
	resp, err := s.respond(pkt, t2, f)
	if err != nil {
		s.count(func(st *ServerStats) { st.NTPRejects++ })
		s.cfg.Logf("nts server: NTP request from %v: %v", addr, err)
		return
	}
	if !s.sleep(f.ReturnDelay) {
		return
	}
	s.mu.Lock()
	prev := s.lastResp
	s.lastResp = resp
	s.mu.Unlock()
	if f.Replay && prev != nil {
		resp = prev
	}
	if f.Tamper != nil {
		resp = f.Tamper(append([]byte(nil), resp...))
	}
	s.udp.WriteTo(resp, addr)
}

// respond builds the response to one request (or a NAK).
func (s *Server) respond(pkt []byte, t2 int64, f Faults) ([]byte, error) {
	req, err := parseRequest(pkt)
	if err != nil {
		return nil, err
	}
	h := Header{
		Version: NTPVersion, Mode: ModeServer, Stratum: s.cfg.Stratum,
		Poll: req.pkt.Poll, Precision: -20, RefID: s.cfg.RefID,
		RootDispersion: uint32((uint64(s.cfg.RootDispersion) << 16) / 1e9),
		OrigTime:       req.pkt.XmitTime,
		RecvTime:       TimestampFromUnixNano(t2),
	}
	c2s, s2c, cerr := s.openCookie(req.cookie)
	if cerr != nil || f.NAK {
		// NTS NAK (RFC 8915 §5.7): kiss code NTSN, UID echoed, no authenticator.
		h.Stratum, h.RefID = 0, kissNTSN
		h.XmitTime = TimestampFromUnixNano(s.cfg.Now())
		b := AppendHeader(nil, &h)
		b = AppendExtField(b, EFUniqueIdentifier, req.uid)
		s.count(func(st *ServerStats) { st.NAKs++ })
		return b, nil
	}
	defer clear(c2s)
	defer clear(s2c)
	ca, err := siv.New(c2s)
	if err != nil {
		return nil, err
	}
	if _, err := ca.Open(nil, req.auth.Ciphertext, pkt[:req.authOffset], req.auth.Nonce); err != nil {
		return nil, fmt.Errorf("request authentication failed")
	}
	sa, err := siv.New(s2c)
	if err != nil {
		return nil, err
	}
	n := 1 + req.placeholders
	if f.ReplyCookies != 0 {
		n = max(f.ReplyCookies, 0)
	}
	var pt []byte
	for i := 0; i < n; i++ {
		ck, err := s.makeCookie(c2s, s2c)
		if err != nil {
			return nil, err
		}
		pt = AppendExtField(pt, EFCookie, ck)
	}
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	h.RefTime = TimestampFromUnixNano(now)
	h.XmitTime = TimestampFromUnixNano(now)
	b := AppendHeader(make([]byte, 0, 512), &h)
	b = AppendExtField(b, EFUniqueIdentifier, req.uid)
	ct, err := sa.Seal(nil, pt, b, nonce[:])
	if err != nil {
		return nil, err
	}
	b = AppendAuthenticator(b, nonce[:], ct)
	s.count(func(st *ServerStats) { st.NTPResponses++ })
	return b, nil
}
