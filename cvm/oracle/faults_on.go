//go:build ccfault

package oracle

import (
	"sync"
	"time"
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
