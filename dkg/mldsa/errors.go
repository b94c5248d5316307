package mldsa

import (
	"errors"
	"fmt"
)

// CulpritNone is the AbortError.Culprit value when no single party can be
// blamed, e.g. for a malformed signer set chosen by the coordinator.
const CulpritNone = -1

// AbortError reports that a signing session was aborted because of a message
// of party Culprit (or CulpritNone). An aborted session cannot continue.
type AbortError struct {
	Culprit int
	Reason  string
}

// Error implements the error interface.
func (e *AbortError) Error() string {
	if e.Culprit == CulpritNone {
		return "mldsa: session aborted: " + e.Reason
	}
	return fmt.Sprintf("mldsa: session aborted by party %d: %s", e.Culprit, e.Reason)
}

func abort(culprit int, format string, args ...any) *AbortError {
	return &AbortError{Culprit: culprit, Reason: fmt.Sprintf(format, args...)}
}

// Errors of the signing protocol.
var (
	// ErrStateConsumed is returned when a round-1 state is used a second time.
	ErrStateConsumed = errors.New("mldsa: round-1 state already consumed")
	// ErrWrongPhase is returned when a session method is called out of order
	// or after the session ended or aborted.
	ErrWrongPhase = errors.New("mldsa: session method called in the wrong phase")
	// ErrNoValidSlot is returned by Combine when no slot of the attempt
	// yields a signature; the parties must run a new attempt with fresh
	// round-1 states.
	ErrNoValidSlot = errors.New("mldsa: no slot of this attempt produced a valid signature")
)
