//go:build !ccfault

package oracle

import "github.com/cc-tsa/cc-tsa/cvm/wire"

// Faults is empty in release builds: faults can be injected only in builds
// with the tag ccfault (tests).
type Faults struct{}

// roundFault is the identity in release builds.
func (o *Oracle) roundFault(msg []byte) []byte { return msg }

// relayFault never fails a relay in release builds.
func (o *Oracle) relayFault(*wire.RelayRequest, bool) error { return nil }
