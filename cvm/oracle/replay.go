package oracle

import (
	"container/heap"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/clock"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// replayStepMargin is how long past the end of its window an entry of the
// replay record is kept, as an allowance for a step of this oracle's clock
// beyond the bound it claimed.
const replayStepMargin = time.Second

// replayRecord remembers session ids and serial numbers for as long as the
// proposal they came with could be accepted again.
//
// Window. A proposal with genTime g and accuracy A passes the time check
// only at a reading t with bound b such that t+b ≤ g+A (checkProposalTime),
// and A ≤ MaxAccuracy. An entry therefore expires at g + MaxAccuracy (not at
// g + A: a replay may claim a wider accuracy). Expiry is measured on the
// oracle's clock readings, the same readings the time check uses, and not
// on the host's monotonic clock: the window is a property of the trusted
// time scale, and readings are what the clock vouches for. An entry is
// dropped only once the lower end of the oracle's own interval, t − b, has
// passed its expiry by replayStepMargin. True time is then past the expiry,
// so every later honest reading t′ has t′ + b′ past it too and refuses the
// proposal, however the clock steps within its bounds; the margin covers a
// bound that was understated by up to a second. Untrusted or unusable
// readings never reach the record (Begin refuses first), so they neither
// add nor drop entries.
//
// Bound. The record holds at most limit entries whose window is open; when
// it is full the oracle refuses new sessions (busy) rather than forget one.
// An entry admitted at reading t has g ≤ t + b (the time check), so it lives
// for at most MaxAccuracy + 2b + replayStepMargin of clock time.
type replayRecord struct {
	limit    int
	sessions map[wire.SessionID]struct{}
	serials  map[string]struct{}
	byExpiry replayHeap
}

type replayEntry struct {
	session wire.SessionID
	serial  string
	expires time.Time
}

// replayHeap is a min-heap of entries by expiry.
type replayHeap []replayEntry

func (h replayHeap) Len() int           { return len(h) }
func (h replayHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h replayHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *replayHeap) Push(x any)        { *h = append(*h, x.(replayEntry)) }
func (h *replayHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func newReplayRecord(limit int) *replayRecord {
	return &replayRecord{limit: limit, sessions: make(map[wire.SessionID]struct{}), serials: make(map[string]struct{})}
}

// len returns the number of entries held.
func (r *replayRecord) len() int { return len(r.byExpiry) }

// expire drops the entries whose window has closed at reading now.
func (r *replayRecord) expire(now clock.Reading) {
	if clock.Check(now) != nil {
		return
	}
	cutoff := now.Time.Add(-now.Accuracy - replayStepMargin)
	for len(r.byExpiry) > 0 && r.byExpiry[0].expires.Before(cutoff) {
		e := heap.Pop(&r.byExpiry).(replayEntry)
		delete(r.sessions, e.session)
		delete(r.serials, e.serial)
	}
}

// add records a session id and serial number that must not be accepted
// again before expires, refusing ones already held.
func (r *replayRecord) add(id wire.SessionID, serial []byte, expires time.Time, now clock.Reading) error {
	r.expire(now)
	if _, ok := r.sessions[id]; ok {
		return &wire.Error{Code: wire.CodeRefused, Message: "session id was used before"}
	}
	if _, ok := r.serials[string(serial)]; ok {
		return &wire.Error{Code: wire.CodeRefused, Message: "serial number was used before"}
	}
	if len(r.byExpiry) >= r.limit {
		return &wire.Error{Code: wire.CodeBusy, Message: "replay record full"}
	}
	r.sessions[id] = struct{}{}
	r.serials[string(serial)] = struct{}{}
	heap.Push(&r.byExpiry, replayEntry{id, string(serial), expires})
	return nil
}
