package coordinator

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// TestLateBeginNotBlamed: a signer that saw a proposal late by no more than
// the delivery took is not blamed (the session is retried); one that is off
// by more (its clock or the leader's lies) is left to beginBlame; a busy
// oracle is not blamed either.
func TestLateBeginNotBlamed(t *testing.T) {
	late := func(d time.Duration) error {
		return &NodeError{Node: 2, Err: &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("%s%dµs: behind", wire.LateProposal, d.Microseconds())}}
	}
	c := &Coordinator{}
	err := lateBegin([]error{nil, late(80 * time.Millisecond), nil}, 300*time.Millisecond)
	if !errors.Is(err, errLateProposal) || c.blame(nil, err) != 0 {
		t.Fatalf("honest lateness: %v", err)
	}
	if err := lateBegin([]error{late(time.Hour)}, 300*time.Millisecond); err != nil {
		t.Fatalf("an hour late after 300 ms of delivery: %v", err)
	}
	if id := c.blame(nil, late(time.Hour)); id != 2 {
		t.Fatalf("a signer an hour off is blamed as node %d, want 2", id)
	}
	busy := &NodeError{Node: 3, Err: &wire.Error{Code: wire.CodeBusy, Message: "full"}}
	if id := c.blame(nil, busy); id != 0 {
		t.Fatalf("a busy oracle is blamed as node %d", id)
	}
}
