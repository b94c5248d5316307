package mldsa

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/cc-tsa/cc-tsa/dkg/mldsa/internal/fips204"
	"golang.org/x/crypto/cryptobyte"
)

// Wire format. Every message starts with a 3-byte header: the protocol byte
// wireVersion, a message type byte and the sender's party id. All integers
// are big-endian.
//
//	Commitment: header ‖ hash[64]                                   (67 bytes)
//	Reveal:     header ‖ slots u16 ‖ slots × K × 736 bytes of w (23-bit packed)
//	Response:   header ‖ slots u16 ‖ bitmap[⌈slots/8⌉] ‖ popcount × L × 640 bytes of z
const (
	wireVersion  = 0xD6
	typeCommit   = 1
	typeReveal   = 2
	typeResponse = 3
)

// Sizes of the per-slot payloads.
const (
	commitHashSize = 64
	revealSlotSize = fips204.K * fips204.PolyW23Size // 4416
	zSlotSize      = fips204.L * fips204.PolyZSize   // 3200
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("mldsa: malformed message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Commitment is a signer's round-1 message: a hash binding the key, session
// id, signer set, sender, μ and the full commitment w_i of every slot.
type Commitment struct {
	Sender int
	Hash   [commitHashSize]byte
}

// Reveal is a signer's round-2 message: w_i for every slot, 23 bits per
// coefficient.
type Reveal struct {
	Sender int
	Slots  int
	w      []byte // Slots × revealSlotSize, every coefficient < q
}

// Response is a signer's round-3 message: for every slot either a rejection
// or the response z_i (20 bits per coefficient).
type Response struct {
	Sender int
	Slots  int
	accept []byte // bitmap, bit j%8 of byte j/8 set when slot j was accepted
	z      []byte // one zSlotSize block per accepted slot, in slot order
}

// Accepted reports whether the sender accepted slot j.
func (r *Response) Accepted(j int) bool {
	return j >= 0 && j < r.Slots && r.accept[j/8]&(1<<(j%8)) != 0
}

func addHeader(b *cryptobyte.Builder, typ byte, sender int) {
	b.AddUint8(wireVersion)
	b.AddUint8(typ)
	b.AddUint8(uint8(sender))
}

func readHeader(s *cryptobyte.String, typ byte) (int, error) {
	var v, t, sender uint8
	if !s.ReadUint8(&v) || !s.ReadUint8(&t) || !s.ReadUint8(&sender) {
		return 0, malformed("short header")
	}
	if v != wireVersion {
		return 0, malformed("unknown protocol byte %#x", v)
	}
	if t != typ {
		return 0, malformed("message type %d, want %d", t, typ)
	}
	if sender >= MaxParties {
		return 0, malformed("sender %d out of range", sender)
	}
	return int(sender), nil
}

func checkSender(sender int) error {
	if sender < 0 || sender >= MaxParties {
		return malformed("sender %d out of range", sender)
	}
	return nil
}

// MarshalBinary encodes the commitment.
func (c *Commitment) MarshalBinary() ([]byte, error) {
	if err := checkSender(c.Sender); err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	addHeader(&b, typeCommit, c.Sender)
	b.AddBytes(c.Hash[:])
	return b.Bytes()
}

// UnmarshalBinary decodes a commitment, rejecting any other length.
func (c *Commitment) UnmarshalBinary(data []byte) error {
	s := cryptobyte.String(data)
	sender, err := readHeader(&s, typeCommit)
	if err != nil {
		return err
	}
	var h []byte
	if !s.ReadBytes(&h, commitHashSize) || !s.Empty() {
		return malformed("commitment length %d, want %d", len(data), 3+commitHashSize)
	}
	c.Sender = sender
	copy(c.Hash[:], h)
	return nil
}

// MarshalBinary encodes the reveal.
func (r *Reveal) MarshalBinary() ([]byte, error) {
	if err := checkSender(r.Sender); err != nil {
		return nil, err
	}
	if r.Slots < 1 || r.Slots > maxSlots || len(r.w) != r.Slots*revealSlotSize {
		return nil, malformed("reveal with %d slots and %d bytes", r.Slots, len(r.w))
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, 5+len(r.w)))
	addHeader(b, typeReveal, r.Sender)
	b.AddUint16(uint16(r.Slots))
	b.AddBytes(r.w)
	return b.Bytes()
}

// UnmarshalBinary decodes a reveal: exact length, 1 ≤ slots ≤ 1200 and every
// coefficient below q.
func (r *Reveal) UnmarshalBinary(data []byte) error {
	s := cryptobyte.String(data)
	sender, err := readHeader(&s, typeReveal)
	if err != nil {
		return err
	}
	var slots uint16
	if !s.ReadUint16(&slots) {
		return malformed("short reveal")
	}
	if slots < 1 || slots > maxSlots {
		return malformed("reveal with %d slots", slots)
	}
	var w []byte
	if !s.ReadBytes(&w, int(slots)*revealSlotSize) || !s.Empty() {
		return malformed("reveal length %d, want %d", len(data), 5+int(slots)*revealSlotSize)
	}
	if err := r.checkW(w); err != nil {
		return err
	}
	r.Sender, r.Slots, r.w = sender, int(slots), append([]byte(nil), w...)
	return nil
}

// checkW checks that every 23-bit coefficient of packed w is below q.
func (*Reveal) checkW(w []byte) error {
	var p fips204.Poly
	for o := 0; o+fips204.PolyW23Size <= len(w); o += fips204.PolyW23Size {
		if err := fips204.UnpackW23(&p, w[o:o+fips204.PolyW23Size]); err != nil {
			return malformed("coefficient out of range")
		}
	}
	return nil
}

// MarshalBinary encodes the response.
func (r *Response) MarshalBinary() ([]byte, error) {
	if err := checkSender(r.Sender); err != nil {
		return nil, err
	}
	if r.Slots < 1 || r.Slots > maxSlots || len(r.accept) != (r.Slots+7)/8 ||
		len(r.z) != popcount(r.accept)*zSlotSize {
		return nil, malformed("inconsistent response")
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, 5+len(r.accept)+len(r.z)))
	addHeader(b, typeResponse, r.Sender)
	b.AddUint16(uint16(r.Slots))
	b.AddBytes(r.accept)
	b.AddBytes(r.z)
	return b.Bytes()
}

func popcount(b []byte) int {
	n := 0
	for _, x := range b {
		n += bits.OnesCount8(x)
	}
	return n
}

// UnmarshalBinary decodes a response: exact length, 1 ≤ slots ≤ 1200, no
// bitmap bit beyond the last slot. Every 20-bit z coefficient is in range by
// construction.
func (r *Response) UnmarshalBinary(data []byte) error {
	s := cryptobyte.String(data)
	sender, err := readHeader(&s, typeResponse)
	if err != nil {
		return err
	}
	var slots uint16
	if !s.ReadUint16(&slots) {
		return malformed("short response")
	}
	if slots < 1 || slots > maxSlots {
		return malformed("response with %d slots", slots)
	}
	var acc []byte
	if !s.ReadBytes(&acc, (int(slots)+7)/8) {
		return malformed("short response bitmap")
	}
	if rem := int(slots) % 8; rem != 0 && acc[len(acc)-1]>>rem != 0 {
		return malformed("response bitmap has bits beyond slot %d", slots)
	}
	n := popcount(acc)
	var z []byte
	if !s.ReadBytes(&z, n*zSlotSize) || !s.Empty() {
		return malformed("response length %d, want %d", len(data), 5+len(acc)+n*zSlotSize)
	}
	r.Sender, r.Slots = sender, int(slots)
	r.accept = append([]byte(nil), acc...)
	r.z = append([]byte(nil), z...)
	return nil
}
