package crosscheck

import (
	"encoding/binary"
	"fmt"
)

// Wire format (all integers big-endian, fixed length, version 1):
//
//	probe: "CCXP" ‖ ver(1) ‖ flags(1) ‖ from(4) ‖ to(4) ‖ seq(8) ‖ t1(8) ‖ err(8)
//	       ‖ prev.seq(8) ‖ prev.t1(8) ‖ prev.t4(8) ‖ prev.err(8)           = 70 bytes
//	reply: "CCXR" ‖ ver(1) ‖ flags(1) ‖ from(4) ‖ to(4) ‖ seq(8) ‖ t1(8) ‖ t2(8)
//	       ‖ t3(8) ‖ err(8) ‖ vouch.seq(8)                                  = 62 bytes
//
// Probe flags: bit 0 HasTime, bit 1 Prev present. Reply flags: bit 0
// HasTime, bit 1 Vouch present, bit 2 Vouch.Consistent. Unused flag bits and
// fields of absent parts must be zero. The cluster layer signs these bytes.
const (
	wireVersion = 1
	ProbeLen    = 70
	ReplyLen    = 62
)

var (
	probeMagic = [4]byte{'C', 'C', 'X', 'P'}
	replyMagic = [4]byte{'C', 'C', 'X', 'R'}
)

// DecodeError reports a malformed message.
type DecodeError struct{ Reason string }

func (e *DecodeError) Error() string { return "crosscheck: malformed message: " + e.Reason }

// MarshalBinary encodes p.
func (p *Probe) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, ProbeLen)
	b = append(b, probeMagic[:]...)
	var flags byte
	if p.HasTime {
		flags |= 1
	}
	if p.Prev != nil {
		flags |= 2
	}
	b = append(b, wireVersion, flags)
	b = binary.BigEndian.AppendUint32(b, uint32(p.From))
	b = binary.BigEndian.AppendUint32(b, uint32(p.To))
	b = binary.BigEndian.AppendUint64(b, p.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(p.T1))
	b = binary.BigEndian.AppendUint64(b, uint64(p.Err))
	var prev Exchange
	if p.Prev != nil {
		prev = *p.Prev
	}
	b = binary.BigEndian.AppendUint64(b, prev.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(prev.T1))
	b = binary.BigEndian.AppendUint64(b, uint64(prev.T4))
	b = binary.BigEndian.AppendUint64(b, uint64(prev.Err))
	return b, nil
}

// UnmarshalBinary decodes a probe strictly.
func (p *Probe) UnmarshalBinary(b []byte) error {
	if len(b) != ProbeLen {
		return &DecodeError{fmt.Sprintf("probe of %d bytes, want %d", len(b), ProbeLen)}
	}
	if [4]byte(b[:4]) != probeMagic || b[4] != wireVersion {
		return &DecodeError{"not a version 1 probe"}
	}
	flags := b[5]
	if flags&^3 != 0 {
		return &DecodeError{"unknown probe flags"}
	}
	u64 := func(off int) uint64 { return binary.BigEndian.Uint64(b[off:]) }
	q := Probe{
		HasTime: flags&1 != 0,
		From:    NodeID(binary.BigEndian.Uint32(b[6:])),
		To:      NodeID(binary.BigEndian.Uint32(b[10:])),
		Seq:     u64(14), T1: int64(u64(22)), Err: int64(u64(30)),
	}
	prev := Exchange{Seq: u64(38), T1: int64(u64(46)), T4: int64(u64(54)), Err: int64(u64(62))}
	if q.Err < 0 || prev.Err < 0 {
		return &DecodeError{"negative error bound"}
	}
	if flags&2 != 0 {
		if prev.Seq == 0 {
			return &DecodeError{"previous exchange with sequence 0"}
		}
		q.Prev = &prev
	} else if prev != (Exchange{}) {
		return &DecodeError{"absent previous exchange with non-zero fields"}
	}
	if q.Seq == 0 {
		return &DecodeError{"sequence 0"}
	}
	*p = q
	return nil
}

// MarshalBinary encodes r.
func (r *Reply) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, ReplyLen)
	b = append(b, replyMagic[:]...)
	var flags byte
	var vseq uint64
	if r.HasTime {
		flags |= 1
	}
	if r.Vouch != nil {
		flags |= 2
		if r.Vouch.Consistent {
			flags |= 4
		}
		vseq = r.Vouch.Seq
	}
	b = append(b, wireVersion, flags)
	b = binary.BigEndian.AppendUint32(b, uint32(r.From))
	b = binary.BigEndian.AppendUint32(b, uint32(r.To))
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(r.T1))
	b = binary.BigEndian.AppendUint64(b, uint64(r.T2))
	b = binary.BigEndian.AppendUint64(b, uint64(r.T3))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Err))
	b = binary.BigEndian.AppendUint64(b, vseq)
	return b, nil
}

// UnmarshalBinary decodes a reply strictly.
func (r *Reply) UnmarshalBinary(b []byte) error {
	if len(b) != ReplyLen {
		return &DecodeError{fmt.Sprintf("reply of %d bytes, want %d", len(b), ReplyLen)}
	}
	if [4]byte(b[:4]) != replyMagic || b[4] != wireVersion {
		return &DecodeError{"not a version 1 reply"}
	}
	flags := b[5]
	if flags&^7 != 0 || (flags&2 == 0 && flags&4 != 0) {
		return &DecodeError{"invalid reply flags"}
	}
	u64 := func(off int) uint64 { return binary.BigEndian.Uint64(b[off:]) }
	q := Reply{
		HasTime: flags&1 != 0,
		From:    NodeID(binary.BigEndian.Uint32(b[6:])),
		To:      NodeID(binary.BigEndian.Uint32(b[10:])),
		Seq:     u64(14), T1: int64(u64(22)), T2: int64(u64(30)), T3: int64(u64(38)), Err: int64(u64(46)),
	}
	vseq := u64(54)
	if q.Err < 0 {
		return &DecodeError{"negative error bound"}
	}
	if q.Seq == 0 {
		return &DecodeError{"sequence 0"}
	}
	if flags&2 != 0 {
		if vseq == 0 {
			return &DecodeError{"vouch for sequence 0"}
		}
		q.Vouch = &Vouch{Seq: vseq, Consistent: flags&4 != 0}
	} else if vseq != 0 {
		return &DecodeError{"absent vouch with non-zero sequence"}
	}
	*r = q
	return nil
}
