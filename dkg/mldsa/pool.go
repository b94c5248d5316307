package mldsa

import (
	"errors"
	"io"
	"sync"
)

// ErrPoolEmpty is returned by Pool.Take when no round-1 state is ready.
var ErrPoolEmpty = errors.New("mldsa: round-1 pool is empty")

// Pool is a bounded, in-memory pool of precomputed round-1 states of one key
// share. It starts no goroutines: the caller refills it (for example in idle
// time) with Fill. Every state is handed out at most once.
type Pool struct {
	_     noCopy
	share *KeyShare
	max   int

	mu     sync.Mutex
	states []*Round1State
}

// NewPool returns an empty pool holding at most max states.
func NewPool(share *KeyShare, max int) *Pool {
	return &Pool{share: share, max: max}
}

// Len returns the number of ready states.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.states)
}

// Fill computes states until the pool holds max of them or n were added,
// and returns how many it added. rand nil means crypto/rand.
func (p *Pool) Fill(rand io.Reader, n int) (int, error) {
	added := 0
	for added < n {
		p.mu.Lock()
		full := len(p.states) >= p.max
		p.mu.Unlock()
		if full {
			break
		}
		st, err := p.share.Round1(rand)
		if err != nil {
			return added, err
		}
		p.mu.Lock()
		if len(p.states) >= p.max {
			p.mu.Unlock()
			st.Discard()
			break
		}
		p.states = append(p.states, st)
		p.mu.Unlock()
		added++
	}
	return added, nil
}

// Take removes and returns one state, or ErrPoolEmpty.
func (p *Pool) Take() (*Round1State, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.states)
	if n == 0 {
		return nil, ErrPoolEmpty
	}
	st := p.states[n-1]
	p.states[n-1] = nil
	p.states = p.states[:n-1]
	return st, nil
}

// Drain erases every ready state (e.g. before the key share is dropped).
func (p *Pool) Drain() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, st := range p.states {
		st.Discard()
		p.states[i] = nil
	}
	p.states = p.states[:0]
}
