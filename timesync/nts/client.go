package nts

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/cc-tsa/cc-tsa/timesync/siv"
)

// MaxCookies is the number of cookies the client keeps (RFC 8915 §6).
const MaxCookies = 8

// KEConfig configures an NTS-KE exchange.
type KEConfig struct {
	// Roots are the trust anchors for the NTS-KE server certificate. Required:
	// the system pool is never used implicitly.
	Roots *x509.CertPool
	// ServerName overrides the name checked against the certificate (default:
	// the host part of the address; IP literals are checked against IP SANs).
	ServerName string
	// CertTime returns the time against which certificate validity is
	// checked. Required: it must be the node's own notion of time (e.g.
	// max(build-time floor, trusted estimate)), not the host's clock.
	CertTime func() time.Time
	// Dialer is used for the TCP connection (optional).
	Dialer *net.Dialer
}

func (c *KEConfig) tlsConfig(host string) (*tls.Config, error) {
	if c.Roots == nil {
		return nil, errors.New("nts: KEConfig.Roots is required (no implicit system roots)")
	}
	if c.CertTime == nil {
		return nil, errors.New("nts: KEConfig.CertTime is required")
	}
	name := c.ServerName
	if name == "" {
		name = host
	}
	return &tls.Config{
		RootCAs:    c.Roots,
		ServerName: name,
		Time:       c.CertTime,
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{ALPN},
	}, nil
}

// Session is the result of one NTS-KE exchange: the traffic keys, the NTP
// server to query and a cookie jar. Keys and cookies live in memory only and
// are zeroized by Close.
type Session struct {
	// NTPAddr is the host:port of the NTPv4 server negotiated in NTS-KE.
	NTPAddr string
	// KEAddr is the NTS-KE address the session was established with.
	KEAddr         string
	c2sKey, s2cKey []byte
	c2s, s2c       *siv.AEAD
	jar            CookieJar
}

// Cookies returns the number of unused cookies in the session's jar.
func (s *Session) Cookies() int { return s.jar.Len() }

// Close zeroizes the session's keys and cookies.
func (s *Session) Close() {
	clear(s.c2sKey)
	clear(s.s2cKey)
	s.jar.Clear()
	s.c2s, s.s2c = nil, nil
}

// CookieJar is a FIFO of single-use NTS cookies (RFC 8915 §6: each cookie
// is used once, for unlinkability).
type CookieJar struct{ cookies [][]byte }

// Len returns the number of cookies held.
func (j *CookieJar) Len() int { return len(j.cookies) }

// Take removes and returns the oldest cookie, or nil when the jar is empty.
func (j *CookieJar) Take() []byte {
	if len(j.cookies) == 0 {
		return nil
	}
	c := j.cookies[0]
	j.cookies[0] = nil
	j.cookies = j.cookies[1:]
	return c
}

// Add stores cookies, dropping any beyond MaxCookies.
func (j *CookieJar) Add(cs ...[]byte) {
	for _, c := range cs {
		if len(j.cookies) >= MaxCookies {
			clear(c)
			continue
		}
		j.cookies = append(j.cookies, c)
	}
}

// Clear zeroizes and drops all cookies.
func (j *CookieJar) Clear() {
	for _, c := range j.cookies {
		clear(c)
	}
	j.cookies = nil
}

// exportKeys derives the c2s and s2c keys (RFC 8915 §5.1).
func exportKeys(cs *tls.ConnectionState, aead uint16) (c2s, s2c []byte, err error) {
	ctx := []byte{0, 0, byte(aead >> 8), byte(aead), 0}
	binary.BigEndian.PutUint16(ctx, ProtocolNTPv4)
	if c2s, err = cs.ExportKeyingMaterial(exporterLabel, ctx, KeyLen); err != nil {
		return nil, nil, fmt.Errorf("nts: exporting c2s key: %w", err)
	}
	ctx[4] = 1
	if s2c, err = cs.ExportKeyingMaterial(exporterLabel, ctx, KeyLen); err != nil {
		return nil, nil, fmt.Errorf("nts: exporting s2c key: %w", err)
	}
	return c2s, s2c, nil
}

// KeyExchange runs NTS-KE with the server at addr (host:port, port 4460 by
// convention) and returns a session with fresh keys and cookies.
func KeyExchange(ctx context.Context, addr string, cfg KEConfig) (*Session, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("nts: NTS-KE address %q: %w", addr, err)
	}
	tc, err := cfg.tlsConfig(host)
	if err != nil {
		return nil, err
	}
	d := cfg.Dialer
	if d == nil {
		d = &net.Dialer{}
	}
	td := &tls.Dialer{NetDialer: d, Config: tc}
	nc, err := td.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("nts: NTS-KE with %s: %w", addr, err)
	}
	conn := nc.(*tls.Conn)
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	cs := conn.ConnectionState()
	if cs.Version != tls.VersionTLS13 {
		return nil, fmt.Errorf("nts: NTS-KE with %s: TLS version %#x, want 1.3", addr, cs.Version)
	}
	if cs.NegotiatedProtocol != ALPN {
		return nil, fmt.Errorf("nts: NTS-KE with %s: ALPN %q, want %q", addr, cs.NegotiatedProtocol, ALPN)
	}
	req := &KEMessage{NextProtocols: []uint16{ProtocolNTPv4}, AEADs: []uint16{AEADAESSIVCMAC256}, HasAEAD: true}
	rb, err := req.Encode()
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(rb); err != nil {
		return nil, fmt.Errorf("nts: NTS-KE with %s: sending request: %w", addr, err)
	}
	raw, err := ReadMessage(conn)
	if err != nil {
		return nil, fmt.Errorf("nts: NTS-KE with %s: %w", addr, err)
	}
	resp, err := ParseKEMessage(raw, true)
	if err != nil {
		return nil, fmt.Errorf("nts: NTS-KE with %s: %w", addr, err)
	}
	if len(resp.Errors) > 0 {
		return nil, fmt.Errorf("nts: NTS-KE with %s: %w", addr, &ErrorRecordError{Code: resp.Errors[0]})
	}
	if len(resp.Warnings) > 0 {
		return nil, fmt.Errorf("nts: NTS-KE with %s: %w", addr, &WarningRecordError{Code: resp.Warnings[0]})
	}
	if len(resp.NextProtocols) != 1 || resp.NextProtocols[0] != ProtocolNTPv4 {
		return nil, fmt.Errorf("nts: NTS-KE with %s: server did not select NTPv4 (%v)", addr, resp.NextProtocols)
	}
	if !resp.HasAEAD || len(resp.AEADs) != 1 || resp.AEADs[0] != AEADAESSIVCMAC256 {
		return nil, fmt.Errorf("nts: NTS-KE with %s: server did not select AEAD_AES_SIV_CMAC_256 (%v)", addr, resp.AEADs)
	}
	if len(resp.Cookies) == 0 {
		return nil, fmt.Errorf("nts: NTS-KE with %s: no cookies", addr)
	}
	c2sKey, s2cKey, err := exportKeys(&cs, AEADAESSIVCMAC256)
	if err != nil {
		return nil, err
	}
	s := &Session{KEAddr: addr, c2sKey: c2sKey, s2cKey: s2cKey}
	if s.c2s, err = siv.New(c2sKey); err != nil {
		return nil, err
	}
	if s.s2c, err = siv.New(s2cKey); err != nil {
		return nil, err
	}
	ntpHost := host
	if resp.Server != "" {
		ntpHost = resp.Server
	}
	port := uint16(DefaultNTPPort)
	if resp.HasPort {
		port = resp.Port
	}
	s.NTPAddr = net.JoinHostPort(ntpHost, strconv.Itoa(int(port)))
	for _, c := range resp.Cookies {
		s.jar.Add(append([]byte(nil), c...))
	}
	return s, nil
}

// Sample is one authenticated NTP measurement. T1 and T4 are read from the
// client's reference clock, T2 and T3 are the server's timestamps; all are
// nanoseconds since the Unix epoch.
type Sample struct {
	Server         string // NTS-KE address
	T1, T2, T3, T4 int64
	Offset         int64 // θ = ((T2−T1)+(T3−T4))/2: server minus local
	Delay          int64 // δ = (T4−T1)−(T3−T2) ≥ 0
	RootDelay      int64
	RootDispersion int64
	Stratum, Leap  uint8
	CookiesAfter   int // cookies left in the jar after this exchange
}

// Uncertainty is the half-width of the interval in which the true offset
// lies if the server is honest: δ/2 + root delay/2 + root dispersion.
func (s *Sample) Uncertainty() int64 {
	return (s.Delay+1)/2 + (s.RootDelay+1)/2 + s.RootDispersion
}

// ClientConfig configures a Client.
type ClientConfig struct {
	KEConfig
	// Now returns the client's reference clock in nanoseconds since the Unix
	// epoch (T1/T4). In production this is the SecureTSC-backed clock model.
	Now func() int64
	// Timeout bounds one query (NTS-KE plus NTP exchange) when the context
	// has no deadline. Default 5 s.
	Timeout time.Duration
	// MaxSessionAge, if non-zero, forces a new NTS-KE once the session is
	// older than this (measured with Now), even with cookies left.
	MaxSessionAge time.Duration
}

// Client queries one NTS server, re-running NTS-KE when its cookies run out
// or the server answers with an NTS NAK. It is safe for concurrent use; queries
// are serialised.
type Client struct {
	keAddr string
	cfg    ClientConfig
	mu     sync.Mutex
	sess   *Session
	sessAt int64 // Now() when sess was established
}

// NewClient returns a client for the NTS-KE server at keAddr.
func NewClient(keAddr string, cfg ClientConfig) (*Client, error) {
	if cfg.Now == nil {
		return nil, errors.New("nts: ClientConfig.Now is required")
	}
	if _, err := cfg.tlsConfig("x"); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	return &Client{keAddr: keAddr, cfg: cfg}, nil
}

// Close zeroizes the current session.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != nil {
		c.sess.Close()
		c.sess = nil
	}
}

// Cookies returns the number of cookies the current session holds.
func (c *Client) Cookies() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return 0
	}
	return c.sess.Cookies()
}

// Query performs one authenticated NTP exchange and returns the sample.
func (c *Client) Query(ctx context.Context) (*Sample, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	expired := c.sess != nil && c.cfg.MaxSessionAge > 0 && c.cfg.Now()-c.sessAt > int64(c.cfg.MaxSessionAge)
	if c.sess == nil || c.sess.Cookies() == 0 || expired {
		if c.sess != nil {
			c.sess.Close()
			c.sess = nil
		}
		s, err := KeyExchange(ctx, c.keAddr, c.cfg.KEConfig)
		if err != nil {
			return nil, err
		}
		c.sess, c.sessAt = s, c.cfg.Now()
	}
	smp, err := c.exchange(ctx, c.sess)
	if errors.Is(err, ErrNAK) {
		c.sess.Close()
		c.sess = nil
	}
	return smp, err
}

func (c *Client) exchange(ctx context.Context, s *Session) (*Sample, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", s.NTPAddr)
	if err != nil {
		return nil, fmt.Errorf("nts: NTP with %s: %w", s.NTPAddr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	var rnd [8 + 32 + 16]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("nts: random: %w", err)
	}
	// The transmit timestamp is random (RFC 8915 §5.7 / draft data
	// minimisation): it only serves as the origin check.
	xmit := Timestamp(binary.BigEndian.Uint64(rnd[:8]))
	uid, nonce := rnd[8:40], rnd[40:]
	cookie := s.jar.Take()
	defer clear(cookie)
	placeholders := MaxCookies - 1 - s.jar.Len()
	req, err := buildRequest(xmit, uid, cookie, placeholders, s.c2s, nonce)
	if err != nil {
		return nil, err
	}
	t1 := c.cfg.Now()
	if _, err := conn.Write(req); err != nil {
		return nil, fmt.Errorf("nts: NTP with %s: %w", s.NTPAddr, err)
	}
	// Cancelling ctx interrupts the read (the deadline already bounds it).
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	r, t4, err := awaitReply(conn, c.cfg.Now, func(b []byte) (*response, error) {
		return checkResponse(b, xmit, uid, s.s2c)
	})
	if err != nil {
		if cerr := ctx.Err(); errors.Is(cerr, context.Canceled) {
			return nil, fmt.Errorf("nts: NTP with %s: %w", s.NTPAddr, cerr)
		}
		return nil, fmt.Errorf("nts: NTP with %s: %w", s.NTPAddr, err)
	}
	s.jar.Add(r.cookies...)
	return newSample(c.keAddr, r.pkt, t1, t4, s.jar.Len())
}

// awaitReply reads packets from conn (whose read deadline bounds the wait)
// until check accepts one, and returns it with its arrival time (now).
//
// Nothing unauthenticated ends the wait early: an attacker who can inject
// packets but not drop them must not be able to keep us from the genuine
// reply. In particular an NTS NAK is not authenticated (RFC 8915 §5.7), so a
// NAK only counts once the deadline passes without an authenticated reply;
// then ErrNAK is returned and the caller runs NTS-KE again. Garbage,
// mismatched and forged packets are skipped; the last rejection reason is
// reported at the deadline. At most maxReplyPackets packets are read
// (ErrTooManyPackets, not a NAK, after that). Any other read error ends the
// wait.
func awaitReply(conn io.Reader, now func() int64, check func([]byte) (*response, error)) (*response, int64, error) {
	buf := make([]byte, MaxPacketLen+1)
	var lastErr error
	sawNAK := false
	for range maxReplyPackets {
		n, err := conn.Read(buf)
		t4 := now()
		if err != nil {
			var ne net.Error
			switch {
			case sawNAK && errors.As(err, &ne) && ne.Timeout():
				return nil, 0, fmt.Errorf("no authenticated reply by the deadline, only an NTS NAK: %w", ErrNAK)
			case lastErr != nil:
				return nil, 0, fmt.Errorf("no valid response (last rejected: %w): %w", lastErr, err)
			default:
				return nil, 0, err
			}
		}
		r, err := check(buf[:n])
		if err == nil {
			return r, t4, nil
		}
		if errors.Is(err, ErrNAK) {
			sawNAK = true
		}
		lastErr = err
	}
	// lastErr is not wrapped: a flood ending in a NAK must not read as one.
	return nil, 0, fmt.Errorf("%w (%d, last rejected: %v)", ErrTooManyPackets, maxReplyPackets, lastErr)
}

// newSample computes offset and delay; pivot for NTP era resolution is T1.
func newSample(server string, p *Packet, t1, t4 int64, cookies int) (*Sample, error) {
	if p.Leap == 3 || p.Stratum == 0 || p.Stratum >= 16 {
		return nil, fmt.Errorf("nts: server %s unsynchronised (leap %d, stratum %d)", server, p.Leap, p.Stratum)
	}
	t2 := p.RecvTime.UnixNano(t1)
	t3 := p.XmitTime.UnixNano(t1)
	delay := (t4 - t1) - (t3 - t2)
	if delay < 0 || t3 < t2 {
		return nil, fmt.Errorf("nts: server %s: inconsistent timestamps (delay %d ns, T3−T2 %d ns)", server, delay, t3-t2)
	}
	return &Sample{
		Server: server, T1: t1, T2: t2, T3: t3, T4: t4,
		Offset:         ((t2 - t1) + (t3 - t4)) / 2,
		Delay:          delay,
		RootDelay:      ShortToNano(p.RootDelay),
		RootDispersion: ShortToNano(p.RootDispersion),
		Stratum:        p.Stratum, Leap: p.Leap,
		CookiesAfter: cookies,
	}, nil
}
