package nts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

// NTS-KE record types (RFC 8915 §4.1, IANA "Network Time Security Key
// Establishment Record Types").
const (
	RecEndOfMessage uint16 = 0
	RecNextProtocol uint16 = 1
	RecError        uint16 = 2
	RecWarning      uint16 = 3
	RecAEAD         uint16 = 4
	RecNewCookie    uint16 = 5
	RecServer       uint16 = 6
	RecPort         uint16 = 7
)

// Protocol identifiers and parameters of RFC 8915.
const (
	// ProtocolNTPv4 is the NTS Next Protocol ID of NTPv4.
	ProtocolNTPv4 uint16 = 0
	// AEADAESSIVCMAC256 is the IANA AEAD id of AEAD_AES_SIV_CMAC_256.
	AEADAESSIVCMAC256 uint16 = 15
	// ALPN is the TLS application protocol of NTS-KE.
	ALPN = "ntske/1"
	// DefaultKEPort is the NTS-KE TCP port.
	DefaultKEPort = 4460
	// DefaultNTPPort is the NTP port used when no Port record is sent.
	DefaultNTPPort = 123
	// KeyLen is the key length of AEAD_AES_SIV_CMAC_256 (c2s and s2c keys).
	KeyLen = 32
)

const (
	criticalBit     uint16 = 0x8000
	recordHeaderLen        = 4
	maxRecordBody          = 0xffff
	maxKEMessageLen        = 64 << 10 // bound on a whole NTS-KE message
	maxCookiesPerKE        = 64
	maxNameLen             = 253
	maxListEntries         = 64
	exporterLabel          = "EXPORTER-network-time-security"
)

// NTS-KE error codes (RFC 8915 §4.1.3).
const (
	ErrCodeUnrecognizedCritical uint16 = 0
	ErrCodeBadRequest           uint16 = 1
	ErrCodeInternalServer       uint16 = 2
)

// Record is one NTS-KE record. Body aliases the decoded buffer.
type Record struct {
	Critical bool
	Type     uint16 // 15-bit record type
	Body     []byte
}

// DecodeError describes why an NTS-KE message or NTP packet was rejected.
type DecodeError struct {
	What   string // the structure being decoded
	Reason string
}

func (e *DecodeError) Error() string { return "nts: malformed " + e.What + ": " + e.Reason }

func keErr(format string, a ...any) error {
	return &DecodeError{What: "NTS-KE message", Reason: fmt.Sprintf(format, a...)}
}

// ErrorRecordError is returned when the peer sent an NTS-KE Error record.
type ErrorRecordError struct{ Code uint16 }

func (e *ErrorRecordError) Error() string {
	return fmt.Sprintf("nts: NTS-KE server sent error %d (%s)", e.Code, errorCodeName(e.Code))
}

// WarningRecordError is returned when the peer sent an NTS-KE Warning record;
// the client treats warnings as fatal (no warning codes are defined).
type WarningRecordError struct{ Code uint16 }

func (e *WarningRecordError) Error() string {
	return fmt.Sprintf("nts: NTS-KE server sent warning %d", e.Code)
}

func errorCodeName(c uint16) string {
	switch c {
	case ErrCodeUnrecognizedCritical:
		return "unrecognized critical record"
	case ErrCodeBadRequest:
		return "bad request"
	case ErrCodeInternalServer:
		return "internal server error"
	}
	return "unknown"
}

// AppendRecord appends the encoding of r to b. It returns an error if the
// type or body is out of range.
func AppendRecord(b []byte, r Record) ([]byte, error) {
	if r.Type&criticalBit != 0 {
		return nil, fmt.Errorf("nts: record type %#x out of range", r.Type)
	}
	if len(r.Body) > maxRecordBody {
		return nil, fmt.Errorf("nts: record body of %d bytes too long", len(r.Body))
	}
	t := r.Type
	if r.Critical {
		t |= criticalBit
	}
	b = binary.BigEndian.AppendUint16(b, t)
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Body)))
	return append(b, r.Body...), nil
}

// DecodeRecords splits a complete NTS-KE message into records. The message
// must end with exactly one End of Message record and nothing after it.
func DecodeRecords(b []byte) ([]Record, error) {
	if len(b) > maxKEMessageLen {
		return nil, keErr("message of %d bytes exceeds %d", len(b), maxKEMessageLen)
	}
	var recs []Record
	for len(b) > 0 {
		if len(b) < recordHeaderLen {
			return nil, keErr("truncated record header")
		}
		t := binary.BigEndian.Uint16(b)
		n := int(binary.BigEndian.Uint16(b[2:]))
		if len(b)-recordHeaderLen < n {
			return nil, keErr("record body of %d bytes truncated", n)
		}
		r := Record{Critical: t&criticalBit != 0, Type: t &^ criticalBit, Body: b[recordHeaderLen : recordHeaderLen+n : recordHeaderLen+n]}
		b = b[recordHeaderLen+n:]
		recs = append(recs, r)
		if r.Type == RecEndOfMessage {
			if len(b) != 0 {
				return nil, keErr("%d bytes after End of Message", len(b))
			}
			return recs, nil
		}
	}
	return nil, keErr("missing End of Message")
}

// ReadMessage reads records from r up to and including End of Message and
// returns the raw message bytes (at most maxKEMessageLen).
func ReadMessage(r io.Reader) ([]byte, error) {
	var msg []byte
	var hdr [recordHeaderLen]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, fmt.Errorf("nts: reading NTS-KE record header: %w", err)
		}
		n := int(binary.BigEndian.Uint16(hdr[2:]))
		if len(msg)+recordHeaderLen+n > maxKEMessageLen {
			return nil, keErr("message exceeds %d bytes", maxKEMessageLen)
		}
		msg = append(msg, hdr[:]...)
		start := len(msg)
		msg = append(msg, make([]byte, n)...)
		if _, err := io.ReadFull(r, msg[start:]); err != nil {
			return nil, fmt.Errorf("nts: reading NTS-KE record body: %w", err)
		}
		if binary.BigEndian.Uint16(hdr[:])&^criticalBit == RecEndOfMessage {
			return msg, nil
		}
	}
}

// KEMessage is the decoded, validated content of an NTS-KE request or
// response.
type KEMessage struct {
	NextProtocols []uint16 // exactly one Next Protocol record is required
	AEADs         []uint16 // nil if no AEAD record
	HasAEAD       bool
	Cookies       [][]byte // New Cookie records (responses only)
	Server        string   // NTPv4 Server Negotiation, "" if absent
	Port          uint16   // NTPv4 Port Negotiation
	HasPort       bool
	Errors        []uint16
	Warnings      []uint16
}

// UnrecognizedCriticalError reports a record with the critical bit set whose
// type this implementation does not know (RFC 8915 §4: must abort).
type UnrecognizedCriticalError struct{ Type uint16 }

func (e *UnrecognizedCriticalError) Error() string {
	return fmt.Sprintf("nts: unrecognized critical NTS-KE record type %d", e.Type)
}

func u16list(what string, body []byte) ([]uint16, error) {
	if len(body)%2 != 0 {
		return nil, keErr("%s record body has odd length %d", what, len(body))
	}
	if len(body)/2 > maxListEntries {
		return nil, keErr("%s record lists %d entries", what, len(body)/2)
	}
	l := make([]uint16, len(body)/2)
	for i := range l {
		l[i] = binary.BigEndian.Uint16(body[2*i:])
	}
	return l, nil
}

func u16single(what string, body []byte) (uint16, error) {
	if len(body) != 2 {
		return 0, keErr("%s record body has length %d, want 2", what, len(body))
	}
	return binary.BigEndian.Uint16(body), nil
}

// validServerName reports whether s is an acceptable NTPv4 Server
// Negotiation value: an IP literal or an ASCII host name (RFC 8915 §4.1.7).
func validServerName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen {
		return false
	}
	if net.ParseIP(s) != nil {
		return true
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// ParseKEMessage decodes and validates an NTS-KE message. response selects
// the rules for a server response (true) or a client request (false).
// Unknown non-critical records are ignored; unknown critical records yield an
// *UnrecognizedCriticalError.
func ParseKEMessage(b []byte, response bool) (*KEMessage, error) {
	recs, err := DecodeRecords(b)
	if err != nil {
		return nil, err
	}
	m := &KEMessage{}
	var seenNP, seenServer bool
	for _, r := range recs {
		switch r.Type {
		case RecEndOfMessage:
			if !r.Critical {
				return nil, keErr("End of Message without critical bit")
			}
			if len(r.Body) != 0 {
				return nil, keErr("End of Message with %d-byte body", len(r.Body))
			}
		case RecNextProtocol:
			if !r.Critical {
				return nil, keErr("Next Protocol Negotiation without critical bit")
			}
			if seenNP {
				return nil, keErr("duplicate Next Protocol Negotiation record")
			}
			seenNP = true
			if m.NextProtocols, err = u16list("Next Protocol", r.Body); err != nil {
				return nil, err
			}
			if !response && len(m.NextProtocols) == 0 {
				return nil, keErr("request offers no next protocol")
			}
		case RecError:
			if !r.Critical {
				return nil, keErr("Error record without critical bit")
			}
			c, err := u16single("Error", r.Body)
			if err != nil {
				return nil, err
			}
			m.Errors = append(m.Errors, c)
		case RecWarning:
			if !r.Critical {
				return nil, keErr("Warning record without critical bit")
			}
			c, err := u16single("Warning", r.Body)
			if err != nil {
				return nil, err
			}
			m.Warnings = append(m.Warnings, c)
		case RecAEAD:
			if m.HasAEAD {
				return nil, keErr("duplicate AEAD Algorithm Negotiation record")
			}
			m.HasAEAD = true
			if m.AEADs, err = u16list("AEAD Algorithm", r.Body); err != nil {
				return nil, err
			}
			if response && len(m.AEADs) > 1 {
				return nil, keErr("response selects %d AEAD algorithms", len(m.AEADs))
			}
			if !response && len(m.AEADs) == 0 {
				return nil, keErr("request offers no AEAD algorithm")
			}
		case RecNewCookie:
			if r.Critical {
				return nil, keErr("New Cookie record with critical bit")
			}
			if !response {
				return nil, keErr("New Cookie record in a request")
			}
			if len(r.Body) == 0 {
				return nil, keErr("empty cookie")
			}
			if len(m.Cookies) >= maxCookiesPerKE {
				return nil, keErr("more than %d cookies", maxCookiesPerKE)
			}
			m.Cookies = append(m.Cookies, r.Body)
		case RecServer:
			if seenServer {
				return nil, keErr("duplicate Server Negotiation record")
			}
			seenServer = true
			if !validServerName(string(r.Body)) {
				return nil, keErr("invalid server name %q", r.Body)
			}
			m.Server = string(r.Body)
		case RecPort:
			if m.HasPort {
				return nil, keErr("duplicate Port Negotiation record")
			}
			p, err := u16single("Port", r.Body)
			if err != nil {
				return nil, err
			}
			if p == 0 {
				return nil, keErr("port 0")
			}
			m.Port, m.HasPort = p, true
		default:
			if r.Critical {
				return nil, &UnrecognizedCriticalError{Type: r.Type}
			}
		}
	}
	if !seenNP && len(m.Errors) == 0 {
		return nil, keErr("missing Next Protocol Negotiation record")
	}
	return m, nil
}

// Encode encodes m as an NTS-KE message (records in the canonical order,
// critical bits as RFC 8915 requires, End of Message last).
func (m *KEMessage) Encode() ([]byte, error) {
	var b []byte
	var err error
	add := func(crit bool, t uint16, body []byte) {
		if err == nil {
			b, err = AppendRecord(b, Record{Critical: crit, Type: t, Body: body})
		}
	}
	list := func(l []uint16) []byte {
		out := make([]byte, 0, 2*len(l))
		for _, v := range l {
			out = binary.BigEndian.AppendUint16(out, v)
		}
		return out
	}
	for _, c := range m.Errors {
		add(true, RecError, binary.BigEndian.AppendUint16(nil, c))
	}
	for _, c := range m.Warnings {
		add(true, RecWarning, binary.BigEndian.AppendUint16(nil, c))
	}
	if m.NextProtocols != nil || len(m.Errors) == 0 {
		add(true, RecNextProtocol, list(m.NextProtocols))
	}
	if m.HasAEAD {
		add(true, RecAEAD, list(m.AEADs))
	}
	if m.Server != "" {
		if !validServerName(m.Server) {
			return nil, fmt.Errorf("nts: invalid server name %q", m.Server)
		}
		add(true, RecServer, []byte(m.Server))
	}
	if m.HasPort {
		add(true, RecPort, binary.BigEndian.AppendUint16(nil, m.Port))
	}
	for _, c := range m.Cookies {
		add(false, RecNewCookie, c)
	}
	add(true, RecEndOfMessage, nil)
	if err != nil {
		return nil, err
	}
	if len(b) > maxKEMessageLen {
		return nil, errors.New("nts: NTS-KE message too long")
	}
	return b, nil
}
