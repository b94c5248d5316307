package oracle

import (
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// replayRecord remembers session ids and serial numbers for replayMemory.
type replayRecord struct {
	sessions map[wire.SessionID]time.Time
	serials  map[string]time.Time
	order    []replayEntry // insertion order, for expiry; order[head:] is live
	head     int
}

type replayEntry struct {
	session wire.SessionID
	serial  string
	at      time.Time
}

func newReplayRecord() *replayRecord {
	return &replayRecord{sessions: make(map[wire.SessionID]time.Time), serials: make(map[string]time.Time)}
}

// add records a session id and serial number, refusing ones already seen.
func (r *replayRecord) add(id wire.SessionID, serial []byte, now time.Time) error {
	for r.head < len(r.order) && now.Sub(r.order[r.head].at) > replayMemory {
		e := &r.order[r.head]
		delete(r.sessions, e.session)
		delete(r.serials, e.serial)
		*e = replayEntry{}
		r.head++
	}
	if r.head > len(r.order)/2 {
		r.order = append(r.order[:0], r.order[r.head:]...)
		r.head = 0
	}
	if _, ok := r.sessions[id]; ok {
		return &wire.Error{Code: wire.CodeRefused, Message: "session id was used before"}
	}
	if _, ok := r.serials[string(serial)]; ok {
		return &wire.Error{Code: wire.CodeRefused, Message: "serial number was used before"}
	}
	if len(r.order)-r.head >= maxRemembered {
		return &wire.Error{Code: wire.CodeBusy, Message: "replay record full"}
	}
	r.sessions[id] = now
	r.serials[string(serial)] = now
	r.order = append(r.order, replayEntry{id, string(serial), now})
	return nil
}
