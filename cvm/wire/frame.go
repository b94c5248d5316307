// Package wire implements the binary protocol between the untrusted wrapper
// and the signing oracle inside a confidential VM.
//
// Every message travels in a frame: a fixed 12-byte header followed by a
// payload of at most [MaxPayload] bytes.
//
//	offset size  field
//	0      2     magic 0xC7 0x5A
//	2      1     protocol version (1)
//	3      1     message type
//	4      4     request id, big endian (echoed in the response)
//	8      4     payload length, big endian
//
// Payloads are built from length-prefixed fields (see the message types in
// messages.go). Decoders are strict: a frame or payload that is truncated,
// oversized, carries trailing bytes, an unknown type or an out-of-range value
// is rejected with an error and never partially applied.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Version is the protocol version this package speaks.
const Version = 1

// HeaderSize is the size of a frame header in bytes.
const HeaderSize = 12

// MaxPayload bounds the payload of any frame. Threshold round messages are the
// largest (an ML-DSA-65 round-2 reveal is about 274 kB per signer), so the
// bound leaves room for several of them in one relayed message.
const MaxPayload = 4 << 20

var magic = [2]byte{0xC7, 0x5A}

// A Frame is one message on the wire.
type Frame struct {
	Type    Type
	ID      uint32
	Payload []byte
}

// ErrFrame is wrapped by every error about a malformed frame header.
var ErrFrame = errors.New("wire: malformed frame")

// ParseHeader decodes a frame header. It checks the magic, the version, the
// type and the payload bound, and returns the type, id and payload length.
func ParseHeader(h []byte) (Type, uint32, int, error) {
	if len(h) != HeaderSize {
		return 0, 0, 0, fmt.Errorf("%w: header is %d bytes, want %d", ErrFrame, len(h), HeaderSize)
	}
	if h[0] != magic[0] || h[1] != magic[1] {
		return 0, 0, 0, fmt.Errorf("%w: bad magic %#02x%02x", ErrFrame, h[0], h[1])
	}
	if h[2] != Version {
		return 0, 0, 0, fmt.Errorf("%w: unsupported protocol version %d (want %d)", ErrFrame, h[2], Version)
	}
	t := Type(h[3])
	if !t.Known() {
		return 0, 0, 0, fmt.Errorf("%w: unknown message type %#02x", ErrFrame, h[3])
	}
	id := binary.BigEndian.Uint32(h[4:8])
	n := binary.BigEndian.Uint32(h[8:12])
	if n > MaxPayload {
		return 0, 0, 0, fmt.Errorf("%w: payload of %d bytes exceeds %d", ErrFrame, n, MaxPayload)
	}
	return t, id, int(n), nil
}

// AppendHeader appends the header for a frame of the given type, id and
// payload length to b.
func AppendHeader(b []byte, t Type, id uint32, n int) []byte {
	b = append(b, magic[0], magic[1], Version, byte(t))
	b = binary.BigEndian.AppendUint32(b, id)
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

// ReadFrame reads one frame from r. It never allocates more than the payload
// length announced in a valid header, which is bounded by MaxPayload.
func ReadFrame(r io.Reader) (Frame, error) {
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Frame{}, err
	}
	t, id, n, err := ParseHeader(h[:])
	if err != nil {
		return Frame{}, err
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, fmt.Errorf("wire: reading %d-byte payload: %w", n, err)
	}
	return Frame{Type: t, ID: id, Payload: p}, nil
}

// WriteFrame writes f to w as one frame.
func WriteFrame(w io.Writer, f Frame) error {
	if len(f.Payload) > MaxPayload {
		return fmt.Errorf("%w: payload of %d bytes exceeds %d", ErrFrame, len(f.Payload), MaxPayload)
	}
	if !f.Type.Known() {
		return fmt.Errorf("%w: unknown message type %#02x", ErrFrame, byte(f.Type))
	}
	// Header and payload are written separately: a large payload (an
	// ML-DSA reveal is 274 kB) is not copied into a new buffer.
	var h [HeaderSize]byte
	AppendHeader(h[:0], f.Type, f.ID, len(f.Payload))
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(f.Payload)
	return err
}
