package oracle

import (
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// FuzzHandle sends arbitrary request frames to a ready oracle: it must
// answer every one (an Error frame for anything malformed) and never panic.
func FuzzHandle(f *testing.F) {
	f.Add(uint8(wire.TypeStatusRequest), []byte{})
	f.Add(uint8(wire.TypeProposeRequest), []byte{1, 1, 0, 32})
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
