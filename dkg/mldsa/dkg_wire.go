package mldsa

import (
	"golang.org/x/crypto/cryptobyte"
)

// DKG message types (after the common 3-byte header: 0xD6, type, sender).
const (
	typeDKGCommit  = 0x20
	typeDKGSeed    = 0x21
	typeDKGReveal  = 0x22
	typeDKGTCommit = 0x23
	typeDKGTReveal = 0x24
	typeDKGConfirm = 0x25

	maxConfirmSig = 8192
)

// DKGCommit is a party's commitment to its random contribution r_i.
type DKGCommit struct {
	Sender int
	Hash   [64]byte
}

// DKGSeed carries a subset seed K_S from the subset's leader to one other
// member. It is secret: send it only over a confidential channel.
type DKGSeed struct {
	Sender, To int
	Mask       uint8
	Seed       [32]byte
}

// DKGReveal reveals r_i.
type DKGReveal struct {
	Sender int
	R      [32]byte
}

// DKGTCommitEntry is a commitment to t_S for the subset Mask.
type DKGTCommitEntry struct {
	Mask uint8
	Hash [64]byte
}

// DKGTCommit lists the commitments of the subsets the sender leads.
type DKGTCommit struct {
	Sender  int
	Entries []DKGTCommitEntry
}

// DKGTRevealEntry reveals t_S (K polynomials, 23 bits per coefficient).
type DKGTRevealEntry struct {
	Mask uint8
	T    []byte
}

// DKGTReveal lists the t_S of the subsets the sender leads.
type DKGTReveal struct {
	Sender  int
	Entries []DKGTRevealEntry
}

// DKGConfirm is the sender's signature over the transcript hash.
type DKGConfirm struct {
	Sender int
	Sig    []byte
}

// maxEntries bounds the subsets one party may lead (C(5,2) = 10 for N = 6).
const maxEntries = 20

func finish(b *cryptobyte.Builder) ([]byte, error) { return b.Bytes() }

// MarshalBinary: header ‖ hash[64].
func (m *DKGCommit) MarshalBinary() ([]byte, error) {
	if err := checkSender(m.Sender); err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	addHeader(&b, typeDKGCommit, m.Sender)
	b.AddBytes(m.Hash[:])
	return finish(&b)
}

// UnmarshalBinary decodes strictly.
func (m *DKGCommit) UnmarshalBinary(data []byte) error {
	s := cryptobyte.String(data)
	snd, err := readHeader(&s, typeDKGCommit)
	if err != nil {
		return err
	}
	var h []byte
	if !s.ReadBytes(&h, 64) || !s.Empty() {
		return malformed("DKG commitment length %d", len(data))
	}
	m.Sender = snd
	copy(m.Hash[:], h)
	return nil
}

// MarshalBinary: header ‖ to ‖ mask ‖ seed[32].
func (m *DKGSeed) MarshalBinary() ([]byte, error) {
	if err := checkSender(m.Sender); err != nil {
		return nil, err
	}
	if err := checkSender(m.To); err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	addHeader(&b, typeDKGSeed, m.Sender)
	b.AddUint8(uint8(m.To))
	b.AddUint8(m.Mask)
	b.AddBytes(m.Seed[:])
	return finish(&b)
}

// UnmarshalBinary decodes strictly.
func (m *DKGSeed) UnmarshalBinary(data []byte) error {
	s := cryptobyte.String(data)
	snd, err := readHeader(&s, typeDKGSeed)
	if err != nil {
		return err
	}
	var to, mask uint8
	var k []byte
	if !s.ReadUint8(&to) || !s.ReadUint8(&mask) || !s.ReadBytes(&k, 32) || !s.Empty() {
		return malformed("DKG seed length %d", len(data))
	}
	if to >= MaxParties || mask == 0 || mask >= 1<<MaxParties {
		return malformed("DKG seed recipient %d or subset %#x out of range", to, mask)
	}
	m.Sender, m.To, m.Mask = snd, int(to), mask
	copy(m.Seed[:], k)
	return nil
}

// MarshalBinary: header ‖ r[32].
func (m *DKGReveal) MarshalBinary() ([]byte, error) {
	if err := checkSender(m.Sender); err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	addHeader(&b, typeDKGReveal, m.Sender)
	b.AddBytes(m.R[:])
	return finish(&b)
}

// UnmarshalBinary decodes strictly.
func (m *DKGReveal) UnmarshalBinary(data []byte) error {
	s := cryptobyte.String(data)
	snd, err := readHeader(&s, typeDKGReveal)
	if err != nil {
		return err
	}
	var r []byte
	if !s.ReadBytes(&r, 32) || !s.Empty() {
		return malformed("DKG reveal length %d", len(data))
	}
	m.Sender = snd
	copy(m.R[:], r)
	return nil
}

// MarshalBinary: header ‖ count ‖ count × (mask ‖ hash[64]).
func (m *DKGTCommit) MarshalBinary() ([]byte, error) {
	if err := checkSender(m.Sender); err != nil {
		return nil, err
	}
	if len(m.Entries) > maxEntries {
		return nil, malformed("too many entries")
	}
	var b cryptobyte.Builder
	addHeader(&b, typeDKGTCommit, m.Sender)
	b.AddUint8(uint8(len(m.Entries)))
	for _, e := range m.Entries {
		b.AddUint8(e.Mask)
		b.AddBytes(e.Hash[:])
	}
	return finish(&b)
}

// UnmarshalBinary decodes strictly: entries in strictly increasing subset
// order, subsets within 6 parties.
func (m *DKGTCommit) UnmarshalBinary(data []byte) error {
	s := cryptobyte.String(data)
	snd, err := readHeader(&s, typeDKGTCommit)
	if err != nil {
		return err
	}
	var n uint8
	if !s.ReadUint8(&n) || n > maxEntries || len(s) != int(n)*65 {
		return malformed("DKG t commitment length %d", len(data))
	}
	entries := make([]DKGTCommitEntry, n)
	for i := range entries {
		var h []byte
		s.ReadUint8(&entries[i].Mask)
		s.ReadBytes(&h, 64)
		copy(entries[i].Hash[:], h)
		if entries[i].Mask == 0 || entries[i].Mask >= 1<<MaxParties || (i > 0 && entries[i].Mask <= entries[i-1].Mask) {
			return malformed("DKG t commitment subsets not increasing or out of range")
		}
	}
	m.Sender, m.Entries = snd, entries
	return nil
}

// MarshalBinary: header ‖ count ‖ count × (mask ‖ t[4416]).
func (m *DKGTReveal) MarshalBinary() ([]byte, error) {
	if err := checkSender(m.Sender); err != nil {
		return nil, err
	}
	if len(m.Entries) > maxEntries {
		return nil, malformed("too many entries")
	}
	var b cryptobyte.Builder
	addHeader(&b, typeDKGTReveal, m.Sender)
	b.AddUint8(uint8(len(m.Entries)))
	for _, e := range m.Entries {
		if len(e.T) != revealSlotSize {
			return nil, malformed("t of %d bytes", len(e.T))
		}
		b.AddUint8(e.Mask)
		b.AddBytes(e.T)
	}
	return finish(&b)
}

// UnmarshalBinary decodes strictly: increasing subsets, every coefficient
// below q.
func (m *DKGTReveal) UnmarshalBinary(data []byte) error {
	s := cryptobyte.String(data)
	snd, err := readHeader(&s, typeDKGTReveal)
	if err != nil {
		return err
	}
	var n uint8
	if !s.ReadUint8(&n) || n > maxEntries || len(s) != int(n)*(1+revealSlotSize) {
		return malformed("DKG t reveal length %d", len(data))
	}
	entries := make([]DKGTRevealEntry, n)
	for i := range entries {
		var t []byte
		s.ReadUint8(&entries[i].Mask)
		s.ReadBytes(&t, revealSlotSize)
		if entries[i].Mask == 0 || entries[i].Mask >= 1<<MaxParties || (i > 0 && entries[i].Mask <= entries[i-1].Mask) {
			return malformed("DKG t reveal subsets not increasing or out of range")
		}
		if err := (&Reveal{}).checkW(t); err != nil {
			return err
		}
		entries[i].T = append([]byte(nil), t...)
	}
	m.Sender, m.Entries = snd, entries
	return nil
}

// MarshalBinary: header ‖ len u16 ‖ sig.
func (m *DKGConfirm) MarshalBinary() ([]byte, error) {
	if err := checkSender(m.Sender); err != nil {
		return nil, err
	}
	if len(m.Sig) == 0 || len(m.Sig) > maxConfirmSig {
		return nil, malformed("transcript signature of %d bytes", len(m.Sig))
	}
	var b cryptobyte.Builder
	addHeader(&b, typeDKGConfirm, m.Sender)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.Sig) })
	return finish(&b)
}

// UnmarshalBinary decodes strictly (1 to 8192 signature bytes).
func (m *DKGConfirm) UnmarshalBinary(data []byte) error {
	s := cryptobyte.String(data)
	snd, err := readHeader(&s, typeDKGConfirm)
	if err != nil {
		return err
	}
	var sig cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&sig) || !s.Empty() || len(sig) == 0 || len(sig) > maxConfirmSig {
		return malformed("DKG confirmation length %d", len(data))
	}
	m.Sender, m.Sig = snd, append([]byte(nil), sig...)
	return nil
}
