package oracle

import (
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
	tecdsa "github.com/cc-tsa/cc-tsa/dkg/ecdsa"
)

// FuzzHandle sends arbitrary request frames to a ready oracle: it must
// answer every one (an Error frame for anything malformed) and never panic.
func FuzzHandle(f *testing.F) {
	f.Add(uint8(wire.TypeStatusRequest), []byte{})
	f.Add(uint8(wire.TypeProposeRequest), []byte{1, 1, 1, 1, 0, 32})
	f.Add(uint8(wire.TypeEndRequest), make([]byte, 16))
	f.Fuzz(func(t *testing.T, typ uint8, payload []byte) {
		o, _ := newTestOracle(t)
		install(t, o)
		r := o.Handle(wire.Frame{Type: wire.Type(typ), ID: 1, Payload: payload})
		if !r.Type.Known() {
			t.Fatalf("answered with unknown type %v", r.Type)
		}
	})
}

// FuzzDecodeBatch feeds arbitrary presignature batches to the batch
// decoder: it must return messages only for a well-formed batch of the
// expected size and never panic.
func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte{1, 0, 0, 1, 0}, uint8(1))
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0}, uint8(2))
	f.Add([]byte{0}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, n uint8) {
		if n == 0 || n > wire.MaxPresignBatch {
			return
		}
		out, err := decodeBatch[tecdsa.PresignRound1]([]inbound{{from: 2, data: data, direct: true}}, int(n))
		if err != nil {
			return
		}
		if len(out) != int(n) {
			t.Fatalf("%d presignatures decoded, want %d", len(out), n)
		}
		for i, ms := range out {
			if len(ms) != 1 {
				t.Fatalf("presignature %d: %d messages from one peer", i, len(ms))
			}
		}
	})
}
