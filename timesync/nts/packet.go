package nts

import (
	"encoding/binary"
	"fmt"
)

// NTPv4 packet constants.
const (
	// HeaderLen is the length of the fixed NTPv4 header.
	HeaderLen = 48
	// ModeClient and ModeServer are the NTP association modes used by NTS.
	ModeClient = 3
	ModeServer = 4
	// NTPVersion is the only NTP version accepted.
	NTPVersion = 4
	// MaxPacketLen bounds every NTS packet this package builds or accepts.
	MaxPacketLen = 2048
)

const (
	minEFLen       = 16 // RFC 7822 §3
	efHeaderLen    = 4
	minUIDLen      = 32 // RFC 8915 §5.3
	minNonceLen    = 16 // RFC 8915 §5.6 for AEAD_AES_SIV_CMAC_256
	maxNonceLen    = 64
	tagLen         = 16
	kissNTSN       = 0x4e54534e // "NTSN": NTS negative acknowledgement
	maxExtFields   = 64
	unixToNTPEpoch = 2208988800 // seconds from 1900-01-01 to 1970-01-01
)

// NTS extension field types (RFC 8915 §5.3–5.6).
const (
	EFUniqueIdentifier  uint16 = 0x0104
	EFCookie            uint16 = 0x0204
	EFCookiePlaceholder uint16 = 0x0304
	EFAuthenticator     uint16 = 0x0404
)

func pktErr(format string, a ...any) error {
	return &DecodeError{What: "NTP packet", Reason: fmt.Sprintf(format, a...)}
}

// Timestamp is a 64-bit NTP timestamp (32.32 fixed point seconds since the
// start of the current NTP era).
type Timestamp uint64

// TimestampFromUnixNano converts nanoseconds since the Unix epoch to an NTP
// timestamp (the era is dropped).
func TimestampFromUnixNano(ns int64) Timestamp {
	sec := ns / 1e9
	frac := ns % 1e9
	if frac < 0 {
		frac += 1e9
		sec--
	}
	s := uint64(sec + unixToNTPEpoch)
	f := (uint64(frac) << 32) / 1e9
	return Timestamp(s<<32 | f)
}

// UnixNano converts t to nanoseconds since the Unix epoch, choosing the NTP
// era that puts the result closest to pivot (Unix ns), so values within ±68
// years of pivot are exact across era boundaries (RFC 5905 §6).
func (t Timestamp) UnixNano(pivot int64) int64 {
	pivotSec := pivot/1e9 + unixToNTPEpoch
	// 32-bit seconds difference relative to the pivot's low 32 bits.
	d := int64(int32(uint32(t>>32) - uint32(uint64(pivotSec))))
	sec := pivotSec + d - unixToNTPEpoch
	frac := int64((uint64(t&0xffffffff)*1e9 + 1<<31) >> 32)
	return sec*1e9 + frac
}

// ShortToNano converts an NTP short format (16.16 seconds) value to ns.
func ShortToNano(v uint32) int64 { return int64((uint64(v)*1e9 + 1<<15) >> 16) }

// Header is the fixed 48-byte NTPv4 header.
type Header struct {
	Leap, Version, Mode uint8
	Stratum             uint8
	Poll, Precision     int8
	RootDelay           uint32 // NTP short format
	RootDispersion      uint32 // NTP short format
	RefID               uint32
	RefTime             Timestamp
	OrigTime            Timestamp
	RecvTime            Timestamp
	XmitTime            Timestamp
}

// ExtField is one NTPv4 extension field (RFC 7822). Body includes any padding
// and aliases the decoded packet; Offset is the field's position in the packet.
type ExtField struct {
	Type   uint16
	Body   []byte
	Offset int
}

// Packet is a decoded NTPv4 packet with extension fields.
type Packet struct {
	Header
	Fields []ExtField
}

// AppendHeader appends the 48-byte encoding of h.
func AppendHeader(b []byte, h *Header) []byte {
	b = append(b, h.Leap<<6|(h.Version&7)<<3|h.Mode&7, h.Stratum, byte(h.Poll), byte(h.Precision))
	b = binary.BigEndian.AppendUint32(b, h.RootDelay)
	b = binary.BigEndian.AppendUint32(b, h.RootDispersion)
	b = binary.BigEndian.AppendUint32(b, h.RefID)
	b = binary.BigEndian.AppendUint64(b, uint64(h.RefTime))
	b = binary.BigEndian.AppendUint64(b, uint64(h.OrigTime))
	b = binary.BigEndian.AppendUint64(b, uint64(h.RecvTime))
	return binary.BigEndian.AppendUint64(b, uint64(h.XmitTime))
}

// AppendExtField appends an extension field with the given body, zero-padded
// to a multiple of 4 and to the RFC 7822 minimum length of 16 bytes.
func AppendExtField(b []byte, typ uint16, body []byte) []byte {
	n := efHeaderLen + len(body)
	n = (n + 3) &^ 3
	if n < minEFLen {
		n = minEFLen
	}
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = append(b, body...)
	return append(b, make([]byte, n-efHeaderLen-len(body))...)
}

// DecodeHeader decodes the fixed header of b (len(b) ≥ 48).
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, pktErr("%d bytes, shorter than the 48-byte header", len(b))
	}
	return Header{
		Leap: b[0] >> 6, Version: b[0] >> 3 & 7, Mode: b[0] & 7,
		Stratum: b[1], Poll: int8(b[2]), Precision: int8(b[3]),
		RootDelay:      binary.BigEndian.Uint32(b[4:]),
		RootDispersion: binary.BigEndian.Uint32(b[8:]),
		RefID:          binary.BigEndian.Uint32(b[12:]),
		RefTime:        Timestamp(binary.BigEndian.Uint64(b[16:])),
		OrigTime:       Timestamp(binary.BigEndian.Uint64(b[24:])),
		RecvTime:       Timestamp(binary.BigEndian.Uint64(b[32:])),
		XmitTime:       Timestamp(binary.BigEndian.Uint64(b[40:])),
	}, nil
}

// DecodeExtFields parses a sequence of extension fields that must fill b
// exactly. base is added to each field's Offset.
func DecodeExtFields(b []byte, base int) ([]ExtField, error) {
	var fs []ExtField
	off := 0
	for off < len(b) {
		if len(fs) == maxExtFields {
			return nil, pktErr("more than %d extension fields", maxExtFields)
		}
		if len(b)-off < efHeaderLen {
			return nil, pktErr("%d trailing bytes", len(b)-off)
		}
		t := binary.BigEndian.Uint16(b[off:])
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		if n < minEFLen || n%4 != 0 {
			return nil, pktErr("extension field %#04x has invalid length %d", t, n)
		}
		if n > len(b)-off {
			return nil, pktErr("extension field %#04x of %d bytes truncated", t, n)
		}
		fs = append(fs, ExtField{Type: t, Body: b[off+efHeaderLen : off+n : off+n], Offset: base + off})
		off += n
	}
	return fs, nil
}

// DecodePacket parses an NTPv4 packet whose bytes after the header are a
// sequence of extension fields filling the packet exactly (NTS packets carry
// no legacy MAC).
func DecodePacket(b []byte) (*Packet, error) {
	if len(b) > MaxPacketLen {
		return nil, pktErr("%d bytes exceeds %d", len(b), MaxPacketLen)
	}
	h, err := DecodeHeader(b)
	if err != nil {
		return nil, err
	}
	if h.Version != NTPVersion {
		return nil, pktErr("version %d", h.Version)
	}
	fs, err := DecodeExtFields(b[HeaderLen:], HeaderLen)
	if err != nil {
		return nil, err
	}
	return &Packet{Header: h, Fields: fs}, nil
}

// Authenticator is the decoded body of an NTS Authenticator and Encrypted
// Extension Fields field (RFC 8915 §5.6).
type Authenticator struct {
	Nonce      []byte
	Ciphertext []byte // SIV tag ‖ encrypted extension fields
}

func pad4(n int) int { return (n + 3) &^ 3 }

// AppendAuthenticator appends an Authenticator extension field.
func AppendAuthenticator(b []byte, nonce, ciphertext []byte) []byte {
	body := make([]byte, 4, 4+pad4(len(nonce))+pad4(len(ciphertext)))
	binary.BigEndian.PutUint16(body, uint16(len(nonce)))
	binary.BigEndian.PutUint16(body[2:], uint16(len(ciphertext)))
	body = append(body, nonce...)
	body = append(body, make([]byte, pad4(len(nonce))-len(nonce))...)
	body = append(body, ciphertext...)
	body = append(body, make([]byte, pad4(len(ciphertext))-len(ciphertext))...)
	return AppendExtField(b, EFAuthenticator, body)
}

// ParseAuthenticator decodes an Authenticator field body. Nonce and
// ciphertext padding and any additional padding must be zero.
func ParseAuthenticator(body []byte) (*Authenticator, error) {
	if len(body) < 4 {
		return nil, pktErr("authenticator body of %d bytes", len(body))
	}
	nl := int(binary.BigEndian.Uint16(body))
	cl := int(binary.BigEndian.Uint16(body[2:]))
	if nl < minNonceLen || nl > maxNonceLen {
		return nil, pktErr("authenticator nonce length %d out of range", nl)
	}
	if cl < tagLen {
		return nil, pktErr("authenticator ciphertext length %d shorter than the tag", cl)
	}
	need := 4 + pad4(nl) + pad4(cl)
	if need > len(body) {
		return nil, pktErr("authenticator lengths exceed its body")
	}
	for _, c := range body[4+nl : 4+pad4(nl)] {
		if c != 0 {
			return nil, pktErr("non-zero nonce padding")
		}
	}
	ctStart := 4 + pad4(nl)
	for _, c := range body[ctStart+cl:] {
		if c != 0 {
			return nil, pktErr("non-zero authenticator padding")
		}
	}
	return &Authenticator{Nonce: body[4 : 4+nl : 4+nl], Ciphertext: body[ctStart : ctStart+cl : ctStart+cl]}, nil
}
