package ecdsa

import (
	"errors"
	"fmt"
)

// AbortError reports a terminal protocol failure. Culprit is the party
// blamed by this node (0 when no single party can be identified, e.g. a
// combined signature that fails to verify, or a message bound to another
// context, ErrContext). Ban is set when the failure was an OT-extension or
// RVOLE check over a message whose binding matched this party's view (so
// the culprit, who authenticated it, provably used the agreed session and
// pairwise setup): that setup leaked information and must not be used
// again (the Signer bans it itself until a new setup replaces it).
type AbortError struct {
	Culprit   int
	Reason    string
	Ban       bool
	Complaint *Complaint // DKG only: publicly checkable evidence, if any
	Err       error
}

// Error describes the abort.
func (e *AbortError) Error() string {
	s := fmt.Sprintf("tecdsa: abort: %s", e.Reason)
	if e.Culprit != 0 {
		s += fmt.Sprintf(" (blame party %d)", e.Culprit)
	}
	if e.Ban {
		s += " [pair banned]"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error, if any.
func (e *AbortError) Unwrap() error { return e.Err }

func abort(culprit int, reason string, err error) *AbortError {
	return &AbortError{Culprit: culprit, Reason: reason, Err: err}
}

// Errors returned by the decoders and state machines.
var (
	ErrDecode        = errors.New("tecdsa: malformed message")
	ErrState         = errors.New("tecdsa: state machine used out of order or after a failure")
	ErrConfig        = errors.New("tecdsa: invalid configuration")
	ErrSessionReused = errors.New("tecdsa: session id already used")
	ErrBanned        = errors.New("tecdsa: party is banned")
	ErrConsumed      = errors.New("tecdsa: presignature already consumed")
	ErrExpired       = errors.New("tecdsa: presignature expired")
	ErrPoolFull      = errors.New("tecdsa: presignature pool is full")
	ErrBusy          = errors.New("tecdsa: too many presigning sessions")
	ErrContext       = errors.New("tecdsa: message bound to another session context or pairwise setup")
	ErrUnconfirmed   = errors.New("tecdsa: key not confirmed; only confirmation digests may be signed")
	ErrInvalidSig    = errors.New("tecdsa: combined signature does not verify")
	ErrDigest        = errors.New("tecdsa: digest must be 48 bytes (SHA-384)")
	ErrShares        = errors.New("tecdsa: inconsistent signature shares")
	ErrConfirmation  = errors.New("tecdsa: key confirmation failed")
)
