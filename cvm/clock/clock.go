// Package clock defines the oracle's view of time: a Clock answers with the
// current time, an honest bound on its error and whether it is trusted.
//
// The production clock (SecureTSC anchored by NTS and checked against peers)
// implements Clock in the time-synchronisation layer. This package holds the
// interface and the unverified host clock used until that clock is wired in.
package clock

import (
	"errors"
	"time"
)

// A Reading is one answer from a Clock.
type Reading struct {
	// Time is the clock's estimate of UTC.
	Time time.Time
	// Accuracy bounds |Time − UTC| as far as the clock can tell.
	Accuracy time.Duration
	// Trusted reports whether the oracle may sign with this reading.
	Trusted bool
	// Source names where the time comes from, for status pages and logs.
	Source string
}

// A Clock is a source of time for the oracle.
type Clock interface {
	Now() Reading
}

// ErrUntrusted is returned by Check for a reading the oracle must not sign with.
var ErrUntrusted = errors.New("clock: time is not trusted")

// Check returns ErrUntrusted unless r may be signed with.
func Check(r Reading) error {
	if !r.Trusted || r.Accuracy <= 0 {
		return ErrUntrusted
	}
	return nil
}

// HostSource is the label of the host clock.
const HostSource = "host clock (development only: not SecureTSC, not NTS-verified)"

// Host is the host operating system's clock, used by the single-oracle
// development mode before trusted time is available. It claims a fixed
// accuracy it cannot verify, and says so in its Source.
type Host struct {
	// Accuracy is the bound reported with every reading.
	Accuracy time.Duration
}

// Now returns the host time.
func (h Host) Now() Reading {
	acc := h.Accuracy
	if acc <= 0 {
		acc = time.Second
	}
	return Reading{Time: time.Now(), Accuracy: acc, Trusted: true, Source: HostSource}
}
