package nts

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/cc-tsa/cc-tsa/timesync/siv"
)

// Errors returned while validating NTS NTP responses.
var (
	// ErrNAK reports an NTS negative acknowledgement (kiss code NTSN): the
	// server could not use our cookie; the client must run NTS-KE again.
	ErrNAK = errors.New("nts: server sent NTS NAK (cookie rejected)")
	// ErrOrigin reports a response whose origin timestamp does not match our
	// request (stale, replayed or spoofed).
	ErrOrigin = errors.New("nts: origin timestamp mismatch (stale or replayed response)")
	// ErrUID reports a response whose Unique Identifier does not match.
	ErrUID = errors.New("nts: unique identifier mismatch")
	// ErrAuth reports a response that failed NTS authentication.
	ErrAuth = errors.New("nts: response authentication failed")
	// ErrTooManyPackets reports that more than maxReplyPackets packets
	// arrived for one request without a valid reply among them (a flood);
	// it is not a NAK and does not cost the session its cookies.
	ErrTooManyPackets = errors.New("nts: too many invalid packets for one request")
)

// maxReplyPackets bounds the packets the client reads for one request.
const maxReplyPackets = 64

// request is a parsed, not yet authenticated, NTS client request.
type request struct {
	pkt          *Packet
	uid          []byte
	cookie       []byte
	placeholders int
	authOffset   int
	auth         *Authenticator
}

// buildRequest encodes an NTS client request: header, UID, one cookie,
// placeholders, then the authenticator over everything before it.
func buildRequest(xmit Timestamp, uid, cookie []byte, placeholders int, c2s *siv.AEAD, nonce []byte) ([]byte, error) {
	h := Header{Version: NTPVersion, Mode: ModeClient, XmitTime: xmit}
	b := AppendHeader(make([]byte, 0, 512), &h)
	b = AppendExtField(b, EFUniqueIdentifier, uid)
	b = AppendExtField(b, EFCookie, cookie)
	ph := make([]byte, len(cookie))
	for i := 0; i < placeholders; i++ {
		b = AppendExtField(b, EFCookiePlaceholder, ph)
	}
	tag, err := c2s.Seal(nil, nil, b, nonce)
	if err != nil {
		return nil, fmt.Errorf("nts: sealing request: %w", err)
	}
	b = AppendAuthenticator(b, nonce, tag)
	if len(b) > MaxPacketLen {
		return nil, fmt.Errorf("nts: request of %d bytes too long", len(b))
	}
	return b, nil
}

// parseRequest validates the structure of an NTS client request (RFC 8915
// §5.7): mode 3, exactly one UID (≥ 32 bytes), exactly one cookie, cookie
// placeholders of the cookie's length, and the authenticator as the last
// field.
func parseRequest(b []byte) (*request, error) {
	p, err := DecodePacket(b)
	if err != nil {
		return nil, err
	}
	if p.Mode != ModeClient {
		return nil, pktErr("mode %d, want client", p.Mode)
	}
	r := &request{pkt: p, authOffset: -1}
	for i, f := range p.Fields {
		switch f.Type {
		case EFUniqueIdentifier:
			if r.uid != nil {
				return nil, pktErr("duplicate unique identifier")
			}
			if len(f.Body) < minUIDLen {
				return nil, pktErr("unique identifier of %d bytes", len(f.Body))
			}
			r.uid = f.Body
		case EFCookie:
			if r.cookie != nil {
				return nil, pktErr("more than one cookie")
			}
			r.cookie = f.Body
		case EFCookiePlaceholder:
			r.placeholders++
		case EFAuthenticator:
			if i != len(p.Fields)-1 {
				return nil, pktErr("authenticator is not the last extension field")
			}
			a, err := ParseAuthenticator(f.Body)
			if err != nil {
				return nil, err
			}
			r.auth, r.authOffset = a, f.Offset
		}
	}
	if r.uid == nil || r.cookie == nil || r.auth == nil {
		return nil, pktErr("NTS request lacks unique identifier, cookie or authenticator")
	}
	for _, f := range p.Fields {
		if f.Type == EFCookiePlaceholder && len(f.Body) != len(r.cookie) {
			return nil, pktErr("cookie placeholder of %d bytes for a %d-byte cookie", len(f.Body), len(r.cookie))
		}
	}
	if r.placeholders > maxCookiesPerKE {
		return nil, pktErr("%d cookie placeholders", r.placeholders)
	}
	return r, nil
}

// response is a validated, authenticated NTS server response.
type response struct {
	pkt     *Packet
	cookies [][]byte
}

// checkResponse validates and authenticates an NTS server response against
// the request's origin timestamp and unique identifier; s2c authenticates it.
// Extension fields after the authenticator are unauthenticated and ignored.
func checkResponse(b []byte, orig Timestamp, uid []byte, s2c *siv.AEAD) (*response, error) {
	p, err := DecodePacket(b)
	if err != nil {
		return nil, err
	}
	if p.Mode != ModeServer {
		return nil, pktErr("mode %d, want server", p.Mode)
	}
	if subtle.ConstantTimeEq(int32(p.OrigTime>>32), int32(orig>>32))&subtle.ConstantTimeEq(int32(uint32(p.OrigTime)), int32(uint32(orig))) != 1 {
		return nil, ErrOrigin
	}
	// Only fields before the authenticator are authenticated; the UID must be
	// among them. NAKs carry the UID but no authenticator.
	var gotUID []byte
	var auth *Authenticator
	authOff, uids := -1, 0
	for _, f := range p.Fields {
		if f.Type == EFAuthenticator {
			if auth, err = ParseAuthenticator(f.Body); err != nil {
				return nil, err
			}
			authOff = f.Offset
			break
		}
		if f.Type == EFUniqueIdentifier {
			gotUID = f.Body
			uids++
		}
	}
	if uids != 1 || !bytes.Equal(gotUID, padTo4(uid)) {
		return nil, ErrUID
	}
	if p.Stratum == 0 && p.RefID == kissNTSN {
		return nil, ErrNAK
	}
	if auth == nil {
		return nil, fmt.Errorf("%w: no authenticator", ErrAuth)
	}
	pt, err := s2c.Open(nil, auth.Ciphertext, b[:authOff], auth.Nonce)
	if err != nil {
		return nil, ErrAuth
	}
	efs, err := DecodeExtFields(pt, 0)
	if err != nil {
		return nil, fmt.Errorf("nts: encrypted extension fields: %w", err)
	}
	r := &response{pkt: p}
	for _, f := range efs {
		if f.Type == EFCookie {
			r.cookies = append(r.cookies, bytes.Clone(f.Body))
		}
	}
	return r, nil
}

func padTo4(b []byte) []byte {
	n := efHeaderLen + len(b)
	n = (n + 3) &^ 3
	if n < minEFLen {
		n = minEFLen
	}
	out := make([]byte, n-efHeaderLen)
	copy(out, b)
	return out
}
