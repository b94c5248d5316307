package coordinator

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// presignMaxAge is how long the coordinator offers a pooled presignature;
// the oracles keep theirs for ten minutes.
const presignMaxAge = 8 * time.Minute

// presignPool tracks the ECDSA presignatures the oracles hold, per signer
// set. The presignatures themselves live only in the oracles' memory; the
// coordinator knows their ids.
type presignPool struct {
	c      *Coordinator
	target int

	mu   sync.Mutex
	sets map[string][]pooled
	wake chan struct{}
}

type pooled struct {
	id      wire.PresignID
	created time.Time
}

func newPresignPool(c *Coordinator, target int) *presignPool {
	return &presignPool{c: c, target: target, sets: make(map[string][]pooled), wake: make(chan struct{}, 1)}
}

func setKey(set []*Node) string { return string(ids(set)) }

func (p *presignPool) level() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.sets {
		n += len(l)
	}
	return n
}

func (p *presignPool) has(set []*Node) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expireLocked(setKey(set))
	return len(p.sets[setKey(set)]) > 0
}

func (p *presignPool) expireLocked(k string) {
	l := p.sets[k]
	for len(l) > 0 && time.Since(l[0].created) > presignMaxAge {
		l = l[1:]
	}
	p.sets[k] = l
}

// take returns a presignature id for set, running a presigning session
// inline when the pool has none (a batch: the rest goes to the pool).
func (p *presignPool) take(ctx context.Context, set []*Node) (wire.PresignID, error) {
	k := setKey(set)
	p.mu.Lock()
	p.expireLocked(k)
	if l := p.sets[k]; len(l) > 0 {
		id := l[0].id
		p.sets[k] = l[1:]
		p.mu.Unlock()
		p.kick()
		return id, nil
	}
	p.mu.Unlock()
	// The set ran dry, which happens under sustained load: make a batch,
	// use the first and pool the rest.
	p.c.stats.InlinePresigns.Add(1)
	made, err := p.c.presignBatch(ctx, set, min(p.target, wire.MaxPresignBatch))
	if err != nil {
		return wire.PresignID{}, err
	}
	for _, id := range made[1:] {
		p.add(set, id)
	}
	return made[0], nil
}

func (p *presignPool) kick() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *presignPool) add(set []*Node, id wire.PresignID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := setKey(set)
	p.sets[k] = append(p.sets[k], pooled{id: id, created: time.Now()})
}

// dropNode forgets the presignatures of every set that contains node id
// (its oracle restarted or was replaced).
func (p *presignPool) dropNode(id uint8) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.sets {
		for _, b := range []byte(k) {
			if b == id {
				delete(p.sets, k)
				break
			}
		}
	}
}

// run keeps every signer set of ready nodes stocked up to target, one
// presigning session at a time, until ctx is done.
func (p *presignPool) run(ctx context.Context) {
	for ctx.Err() == nil {
		worked := false
		ready := p.c.ReadyNodes()
		if len(ready) >= p.c.cfg.Threshold {
			// Fill the emptiest set first.
			var best []*Node
			bestN := p.target
			for _, s := range subsets(ready, p.c.cfg.Threshold) {
				p.mu.Lock()
				p.expireLocked(setKey(s))
				n := len(p.sets[setKey(s)])
				p.mu.Unlock()
				if n < bestN {
					best, bestN = s, n
				}
			}
			// Refilling yields to live sessions, and for a moment after
			// the last one (its response is still being written and
			// logged), while every set still has a presignature.
			if best != nil && bestN > 0 && p.c.busy() {
				best = nil
			}
			if best != nil {
				// One relay session refills the set in a batch.
				sctx, cancel := context.WithTimeout(ctx, p.c.cfg.SessionTimeout)
				made, err := p.c.presignBatch(sctx, best, min(p.target-bestN, wire.MaxPresignBatch))
				cancel()
				if err == nil {
					for _, id := range made {
						p.add(best, id)
					}
					worked = true
				} else if ctx.Err() == nil {
					p.c.log.Warn("presigning failed", "set", ids(best), "err", err)
					p.c.blame(best, err)
				}
			}
		}
		if !worked {
			wait := 500 * time.Millisecond
			if p.c.busy() {
				wait = 20 * time.Millisecond
			}
			select {
			case <-ctx.Done():
			case <-p.wake:
			case <-time.After(wait):
			}
		}
	}
}

// refillQuiet is how long after the last signing session the presignature
// pool waits before it refills a set that still has presignatures.
const refillQuiet = 20 * time.Millisecond

// busy reports whether a signing session runs or ended less than
// refillQuiet ago.
func (c *Coordinator) busy() bool {
	return c.inflight.Load() > 0 || time.Since(time.Unix(0, c.lastDone.Load())) < refillQuiet
}

// presign makes one presignature among set and returns its id.
func (c *Coordinator) presign(ctx context.Context, set []*Node) (wire.PresignID, error) {
	ids, err := c.presignBatch(ctx, set, 1)
	if err != nil {
		return wire.PresignID{}, err
	}
	return ids[0], nil
}

// presignBatch runs one presigning relay session among set that makes n
// presignatures (1 ≤ n ≤ wire.MaxPresignBatch) and returns their ids.
func (c *Coordinator) presignBatch(ctx context.Context, set []*Node, n int) ([]wire.PresignID, error) {
	var sid [32]byte
	rand.Read(sid[:])
	params := append(ids(set), byte(n))
	if _, err := runRelay(ctx, set, wire.ProtoECDSAPresign, sid, 3, params); err != nil {
		return nil, fmt.Errorf("presigning with %v: %w", ids(set), err)
	}
	c.stats.Presignatures.Add(uint64(n))
	out := make([]wire.PresignID, n)
	for i := range out {
		out[i] = wire.PresignBatchID(sid, i)
	}
	return out, nil
}
