// Package clock provides the node's trusted clock: a monotonic source
// (CLOCK_MONOTONIC_RAW, backed by SecureTSC on SEV-SNP), start-up platform
// checks that SecureTSC is active and the clocksource is tsc, and the clock
// health state machine the oracle consults before signing.
//
// Time is modelled as an anchor interval learned from NTS (package interval)
// plus elapsed monotonic time, with an error bound that grows at the maximum
// rate the clock has been verified against. The node is trusted only while
// its NTS quorum is fresh, its rate is within bounds, its peers agree with it
// and its platform is sound; it then reports genTime with an honest accuracy.
package clock

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Monotonic is a monotonic nanosecond counter with no relation to UTC.
type Monotonic interface {
	// Now returns the counter in nanoseconds.
	Now() int64
}

// RawMonotonic reads CLOCK_MONOTONIC_RAW: the kernel's clocksource scaled by
// its calibrated frequency, never slewed by NTP. Inside an SEV-SNP guest with
// SecureTSC and clocksource=tsc it is derived from the protected TSC.
type RawMonotonic struct{}

// Now returns CLOCK_MONOTONIC_RAW in nanoseconds. It panics only if the
// kernel lacks CLOCK_MONOTONIC_RAW (Linux < 2.6.28), which NewRawMonotonic
// rules out.
func (RawMonotonic) Now() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC_RAW, &ts); err != nil {
		panic(fmt.Sprintf("clock: CLOCK_MONOTONIC_RAW: %v", err))
	}
	return ts.Nano()
}

// NewRawMonotonic checks that CLOCK_MONOTONIC_RAW is readable and returns it.
func NewRawMonotonic() (RawMonotonic, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC_RAW, &ts); err != nil {
		return RawMonotonic{}, fmt.Errorf("clock: CLOCK_MONOTONIC_RAW unavailable: %w", err)
	}
	return RawMonotonic{}, nil
}
