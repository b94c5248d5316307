package oracle

import (
	"fmt"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// relayRun is the bookkeeping of one multi-step relay session in progress
// (a presigning run or a pair setup) and its protocol state.
type relayRun[S any] struct {
	ctx     [32]byte // the relay context every step must carry
	phase   uint8    // last step completed
	busy    bool     // a step is running
	started time.Time
	state   S
}

// runTable holds the relay sessions of one protocol in progress, bounded
// in count and age. Each step of a session is claimed atomically and runs
// at most once, in order: a concurrent, repeated or reordered step is
// refused rather than computed twice. Its methods must be called with the
// keys' mutex held.
type runTable[S any] struct {
	what   string // "presigning session", "pair setup"
	limit  int
	maxAge time.Duration
	steps  uint8
	abort  func(*S) // wipes an abandoned session's secrets; may be nil
	runs   map[wire.PresignID]*relayRun[S]
}

func newRunTable[S any](what string, limit int, maxAge time.Duration, steps uint8, abort func(*S)) runTable[S] {
	return runTable[S]{what: what, limit: limit, maxAge: maxAge, steps: steps, abort: abort, runs: make(map[wire.PresignID]*relayRun[S])}
}

// claimLocked claims step of session id: step 1 creates it (refused if the
// id is in use or the table is full), a later step needs the session at
// the previous step, idle, and with the same context.
func (t *runTable[S]) claimLocked(id wire.PresignID, step uint8, ctx [32]byte, now time.Time) (*relayRun[S], error) {
	t.pruneLocked(now)
	r := t.runs[id]
	if step == 1 {
		if r != nil {
			return nil, &wire.Error{Code: wire.CodeRefused, Message: t.what + " id is in use"}
		}
		if len(t.runs) >= t.limit {
			return nil, &wire.Error{Code: wire.CodeBusy, Message: fmt.Sprintf("%d %ss in progress", len(t.runs), t.what)}
		}
		r = &relayRun[S]{ctx: ctx, busy: true, started: now}
		t.runs[id] = r
		return r, nil
	}
	switch {
	case r == nil:
		return nil, &wire.Error{Code: wire.CodeUnknownSession, Message: "no such " + t.what}
	case r.busy:
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("%s step %d: a step of this session is running", t.what, step)}
	case r.phase != step-1:
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("%s step %d is not expected (at step %d)", t.what, step, r.phase)}
	case r.ctx != ctx:
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: t.what + " parameters changed within the session"}
	}
	r.busy = true
	return r, nil
}

// releaseLocked ends a claimed step: on success the session moves to step
// (and leaves the table after its last step), on failure it is aborted and
// removed.
func (t *runTable[S]) releaseLocked(id wire.PresignID, r *relayRun[S], step uint8, ok bool) {
	r.busy = false
	if ok && step < t.steps {
		r.phase = step
		return
	}
	if !ok && t.abort != nil {
		t.abort(&r.state)
	}
	if t.runs[id] == r {
		delete(t.runs, id)
	}
}

// pruneLocked drops idle sessions older than the table's age limit.
func (t *runTable[S]) pruneLocked(now time.Time) {
	for id, r := range t.runs {
		if !r.busy && now.Sub(r.started) > t.maxAge {
			if t.abort != nil {
				t.abort(&r.state)
			}
			delete(t.runs, id)
		}
	}
}

// clearLocked drops every session, aborting the idle ones (a running step
// ends its own).
func (t *runTable[S]) clearLocked() {
	for id, r := range t.runs {
		if !r.busy && t.abort != nil {
			t.abort(&r.state)
		}
		delete(t.runs, id)
	}
}
