// Package crosscheck implements the cross-node clock check between the TSA's
// oracles (trusted-time.md §5.3, TriHaRd's "untaint" rule generalised): each
// node probes its peers NTP-style, judges each peer consistent when their
// clock intervals overlap, and is vouched for by its peers. A node passes
// when at least Required peers (3 of 4 for five nodes) are consistent with it
// in the current round and at least Required peers report it consistent.
//
// The package is message-driven and does no I/O: the cluster layer carries
// Probe and Reply messages between oracles (signed with the node identity
// keys) and feeds the Verdict to clock.Health.ObservePeers.
package crosscheck

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// NodeID identifies an oracle.
type NodeID uint32

// Clock is the node's current UTC estimate (Unix ns) and error bound (ns);
// ok is false when the node has no time at all.
type Clock func() (t, e int64, ok bool)

// Exchange is the client side record of a completed probe/reply exchange,
// sent back to the peer in the next probe so it can judge us.
type Exchange struct {
	Seq    uint64
	T1, T4 int64 // our send and receive times
	Err    int64 // our error bound at T1
}

// Probe is sent by node From to peer To to start an exchange.
type Probe struct {
	From, To NodeID
	Seq      uint64 // strictly increasing per (From, To)
	T1       int64
	Err      int64 // sender's error bound at T1
	HasTime  bool
	Prev     *Exchange // the previous completed exchange with To, if any
}

// Vouch is a peer's verdict about the probing node, computed from the
// exchange identified by Seq.
type Vouch struct {
	Seq        uint64
	Consistent bool
}

// Reply answers a Probe.
type Reply struct {
	From, To   NodeID
	Seq        uint64
	T1, T2, T3 int64 // T1 echoed; T2 receive, T3 send on the replier's clock
	Err        int64 // replier's error bound
	HasTime    bool
	Vouch      *Vouch // verdict about the prober from the probe's Prev
}

// Errors returned for messages that must be ignored.
var (
	ErrUnknownPeer = errors.New("crosscheck: message from or to an unexpected node")
	ErrStale       = errors.New("crosscheck: stale or replayed message")
)

// Config configures a Checker.
type Config struct {
	Self  NodeID
	Peers []NodeID
	// Required is the number of consistent and of vouching peers needed
	// (default len(Peers) − 1: 3 of 4 for five nodes).
	Required int
	// Margin is added to the overlap test (default 1 ms).
	Margin time.Duration
	// Clock reads the node's clock.
	Clock Clock
}

type served struct {
	seq    uint64
	t2, t3 int64
	err    int64
	ok     bool // we had time when serving
}

type peerState struct {
	sent       *Probe    // outstanding probe of the current round
	last       *Exchange // last completed exchange (sent as Prev)
	prevSeq    uint64    // seq of the exchange our current probe's Prev names
	consistent bool      // verdict about the peer in the current round
	vouched    bool      // the peer vouched for us in the current round
	seenSeq    uint64    // highest probe seq received from the peer
	served     *served   // our side of the last exchange the peer started
}

// Checker runs one node's side of the cross-check. It is safe for concurrent use.
type Checker struct {
	cfg   Config
	mu    sync.Mutex
	round uint64
	peers map[NodeID]*peerState
}

// New returns a checker.
func New(cfg Config) (*Checker, error) {
	if cfg.Clock == nil || len(cfg.Peers) == 0 {
		return nil, errors.New("crosscheck: need a clock and peers")
	}
	if cfg.Required == 0 {
		cfg.Required = len(cfg.Peers) - 1
	}
	if cfg.Required < 1 || cfg.Required > len(cfg.Peers) {
		return nil, fmt.Errorf("crosscheck: required %d out of range for %d peers", cfg.Required, len(cfg.Peers))
	}
	if cfg.Margin == 0 {
		cfg.Margin = time.Millisecond
	}
	c := &Checker{cfg: cfg, peers: make(map[NodeID]*peerState)}
	for _, p := range cfg.Peers {
		if p == cfg.Self || c.peers[p] != nil {
			return nil, fmt.Errorf("crosscheck: invalid or duplicate peer %d", p)
		}
		c.peers[p] = &peerState{}
	}
	return c, nil
}

// Consistent reports whether two clocks are consistent given one exchange:
// |θ| ≤ δ/2 + eA + eB + margin, with δ ≥ 0.
// Values outside a sane range (times outside [0, 2^62) ns, error bounds or
// margin outside [0, 2^60) ns) are never consistent, so arithmetic cannot
// overflow on hostile input.
func Consistent(t1, t2, t3, t4, eA, eB, margin int64) bool {
	const tMax, eMax = int64(1) << 62, int64(1) << 60
	for _, t := range []int64{t1, t2, t3, t4} {
		if t < 0 || t >= tMax {
			return false
		}
	}
	for _, e := range []int64{eA, eB, margin} {
		if e < 0 || e >= eMax {
			return false
		}
	}
	delay := (t4 - t1) - (t3 - t2)
	if delay < 0 || t3 < t2 {
		return false
	}
	theta := ((t2 - t1) + (t3 - t4)) / 2
	if theta < 0 {
		theta = -theta
	}
	return theta <= delay/2+1+eA+eB+margin
}

// StartRound begins a new round and returns one probe per peer. Verdicts of
// the previous round are discarded.
func (c *Checker) StartRound() []Probe {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.round++
	t, e, ok := c.cfg.Clock()
	var out []Probe
	for _, id := range c.cfg.Peers {
		ps := c.peers[id]
		p := Probe{From: c.cfg.Self, To: id, Seq: c.round, T1: t, Err: e, HasTime: ok}
		if ps.last != nil {
			prev := *ps.last
			p.Prev = &prev
			ps.prevSeq = prev.Seq
		} else {
			ps.prevSeq = 0
		}
		ps.sent = &p
		ps.consistent, ps.vouched = false, false
		out = append(out, p)
	}
	return out
}

// HandleProbe answers a peer's probe. It judges the peer on the exchange the
// probe's Prev completes and returns that verdict as the reply's Vouch.
func (c *Checker) HandleProbe(p Probe) (Reply, error) {
	t2, e2, ok2 := c.cfg.Clock()
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := c.peers[p.From]
	if ps == nil || p.To != c.cfg.Self {
		return Reply{}, ErrUnknownPeer
	}
	if p.Seq <= ps.seenSeq {
		return Reply{}, ErrStale
	}
	ps.seenSeq = p.Seq
	r := Reply{From: c.cfg.Self, To: p.From, Seq: p.Seq, T1: p.T1, T2: t2, Err: e2, HasTime: ok2}
	if s := ps.served; p.Prev != nil && s != nil && s.seq == p.Prev.Seq {
		ok := s.ok && Consistent(p.Prev.T1, s.t2, s.t3, p.Prev.T4, p.Prev.Err, s.err, int64(c.cfg.Margin))
		r.Vouch = &Vouch{Seq: s.seq, Consistent: ok}
	}
	t3, _, ok3 := c.cfg.Clock()
	r.T3 = t3
	r.HasTime = ok2 && ok3 && p.HasTime
	ps.served = &served{seq: p.Seq, t2: t2, t3: t3, err: e2, ok: r.HasTime}
	return r, nil
}

// HandleReply processes a peer's reply to this round's probe.
func (c *Checker) HandleReply(r Reply) error {
	t4, _, ok4 := c.cfg.Clock()
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := c.peers[r.From]
	if ps == nil || r.To != c.cfg.Self {
		return ErrUnknownPeer
	}
	if ps.sent == nil || r.Seq != ps.sent.Seq || r.T1 != ps.sent.T1 {
		return ErrStale
	}
	sent := ps.sent
	ps.sent = nil
	ok := ok4 && sent.HasTime && r.HasTime &&
		Consistent(sent.T1, r.T2, r.T3, t4, sent.Err, r.Err, int64(c.cfg.Margin))
	ps.consistent = ok
	ps.last = &Exchange{Seq: r.Seq, T1: sent.T1, T4: t4, Err: sent.Err}
	// Only a verdict on exactly the exchange our probe named counts (fresh,
	// not replayed from an older round).
	ps.vouched = r.Vouch != nil && ps.prevSeq != 0 && r.Vouch.Seq == ps.prevSeq && r.Vouch.Consistent
	return nil
}

// Verdict summarises the current round.
type Verdict struct {
	Round      uint64
	Consistent []NodeID // peers consistent with us this round
	Vouching   []NodeID // peers that report us consistent this round
	Required   int
}

// OK reports whether both quorums are met.
func (v Verdict) OK() bool { return len(v.Consistent) >= v.Required && len(v.Vouching) >= v.Required }

func (v Verdict) String() string {
	return fmt.Sprintf("round %d: %d consistent %v, %d vouching %v, %d required",
		v.Round, len(v.Consistent), v.Consistent, len(v.Vouching), v.Vouching, v.Required)
}

// Verdict returns the current round's verdict.
func (c *Checker) Verdict() Verdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := Verdict{Round: c.round, Required: c.cfg.Required}
	for _, id := range c.cfg.Peers {
		ps := c.peers[id]
		if ps.consistent {
			v.Consistent = append(v.Consistent, id)
		}
		if ps.vouched {
			v.Vouching = append(v.Vouching, id)
		}
	}
	slices.Sort(v.Consistent)
	slices.Sort(v.Vouching)
	return v
}
