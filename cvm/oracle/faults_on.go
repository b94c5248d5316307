//go:build ccfault

package oracle

import (
	"sync"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// Faults make an oracle misbehave, for tests of the coordinator's fault
// handling. This file is compiled only with the build tag ccfault; release
// builds have no way to inject faults.
type Faults struct {
	// CorruptRounds flips a bit in every signing-round message this
	// oracle sends, after signing it (as a broken or malicious host
	// would).
	CorruptRounds bool
	// Stall delays every signing round by this long.
	Stall time.Duration
	// FailRelays fails the next FailRelays relay requests of protocol
	// FailProtocol at step FailStep: before anything is computed, as a
	// lost request would, or with FailAfter once the step ran, as a lost
	// answer would (the coordinator's retries are tested with it).
	FailRelays   int
	FailProtocol wire.Protocol
	FailStep     uint8
	FailAfter    bool
}

var faultsMu sync.Mutex

// InjectFaults sets the faults of o.
func (o *Oracle) InjectFaults(f Faults) {
	faultsMu.Lock()
	defer faultsMu.Unlock()
	o.faults = &f
}

// roundFault applies the injected faults to an outgoing round message.
func (o *Oracle) roundFault(msg []byte) []byte {
	faultsMu.Lock()
	f := o.faults
	faultsMu.Unlock()
	if f == nil {
		return msg
	}
	if f.Stall > 0 {
		time.Sleep(f.Stall)
	}
	if f.CorruptRounds && len(msg) > 200 {
		msg = append([]byte(nil), msg...)
		msg[len(msg)/2] ^= 0x40
	}
	return msg
}

// relayFault fails req, before (after false) or after it ran, if an
// injected FailRelays fault covers it.
func (o *Oracle) relayFault(req *wire.RelayRequest, after bool) error {
	faultsMu.Lock()
	defer faultsMu.Unlock()
	f := o.faults
	if f == nil || f.FailRelays == 0 || req.Protocol != f.FailProtocol || req.Step != f.FailStep || f.FailAfter != after {
		return nil
	}
	f.FailRelays--
	return &wire.Error{Code: wire.CodeInternal, Message: "injected fault: relay request lost"}
}
