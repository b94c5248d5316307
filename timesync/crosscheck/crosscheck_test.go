package crosscheck

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// sim is a deterministic five-node cluster on a simulated network.
type sim struct {
	now      int64 // true time (ns)
	offsets  []int64
	errs     []int64
	nodes    []*Checker
	hop      int64 // one-way delay
	lieVouch map[int]bool
}

func newSim(t testing.TB, offsets, errs []int64) *sim {
	t.Helper()
	s := &sim{now: 1_700_000_000e9, offsets: offsets, errs: errs, hop: 2e6}
	n := len(offsets)
	for i := 0; i < n; i++ {
		var peers []NodeID
		for j := 0; j < n; j++ {
			if j != i {
				peers = append(peers, NodeID(j+1))
			}
		}
		i := i
		c, err := New(Config{Self: NodeID(i + 1), Peers: peers, Clock: func() (int64, int64, bool) {
			return s.now + s.offsets[i], s.errs[i], true
		}})
		if err != nil {
			t.Fatal(err)
		}
		s.nodes = append(s.nodes, c)
	}
	return s
}

// round runs one full round for every node, passing every message through
// the wire encoding.
func (s *sim) round(t testing.TB) {
	t.Helper()
	for _, a := range s.nodes {
		for _, p := range a.StartRound() {
			pb, _ := p.MarshalBinary()
			var p2 Probe
			if err := p2.UnmarshalBinary(pb); err != nil {
				t.Fatal(err)
			}
			s.now += s.hop
			r, err := s.nodes[p2.To-1].HandleProbe(p2)
			if err != nil {
				t.Fatal(err)
			}
			if s.lieVouch[int(p2.To-1)] && r.Vouch != nil {
				r.Vouch.Consistent = true
			}
			rb, _ := r.MarshalBinary()
			var r2 Reply
			if err := r2.UnmarshalBinary(rb); err != nil {
				t.Fatal(err)
			}
			s.now += s.hop
			if err := a.HandleReply(r2); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestHonestClusterPasses(t *testing.T) {
	s := newSim(t, []int64{0, 1e6, -1e6, 0, 500e3}, []int64{2e6, 2e6, 2e6, 2e6, 2e6})
	s.round(t)
	for i, n := range s.nodes {
		v := n.Verdict()
		if len(v.Consistent) != 4 || len(v.Vouching) != 0 || v.OK() {
			t.Fatalf("node %d round 1: %v (no vouches possible yet)", i+1, v)
		}
	}
	s.round(t)
	for i, n := range s.nodes {
		if v := n.Verdict(); !v.OK() || len(v.Vouching) != 4 {
			t.Fatalf("node %d: %v", i+1, v)
		}
	}
}

// One node 100 ms off (f = 1): it fails, the four honest nodes still pass
// with 3 of 4 consistent and vouching, even if the bad node lies in its
// vouches.
func TestOneBadNodeIsolated(t *testing.T) {
	s := newSim(t, []int64{0, 0, 100e6, 0, 0}, []int64{1e6, 1e6, 1e6, 1e6, 1e6})
	s.lieVouch = map[int]bool{2: true}
	for i := 0; i < 3; i++ {
		s.round(t)
	}
	for i, n := range s.nodes {
		v := n.Verdict()
		if i == 2 {
			if v.OK() || len(v.Consistent) != 0 || len(v.Vouching) != 0 {
				t.Fatalf("bad node passes: %v", v)
			}
			continue
		}
		if !v.OK() || len(v.Consistent) != 3 || slices.Contains(v.Consistent, 3) {
			t.Fatalf("honest node %d: %v", i+1, v)
		}
	}
}

// Two bad nodes (beyond f = 1) make every honest node fail: no quorum.
func TestTwoBadNodesNoQuorum(t *testing.T) {
	s := newSim(t, []int64{0, 0, 100e6, -100e6, 0}, []int64{1e6, 1e6, 1e6, 1e6, 1e6})
	s.round(t)
	s.round(t)
	for i, n := range s.nodes {
		if n.Verdict().OK() {
			t.Fatalf("node %d passes with two bad peers", i+1)
		}
	}
}

// Wide error bounds make distant clocks consistent (interval overlap, not a
// fixed threshold); long delays widen the tolerance too.
func TestConsistentRule(t *testing.T) {
	if !Consistent(0, 50, 60, 110, 0, 0, 0) { // θ = 0
		t.Fatal()
	}
	if Consistent(0, 1000, 1000, 10, 0, 0, 0) { // θ = 995, δ = 10
		t.Fatal("far clock accepted")
	}
	if !Consistent(0, 1000, 1000, 10, 500, 495, 0) {
		t.Fatal("overlapping intervals rejected")
	}
	if Consistent(0, 100, 50, 10, 1e9, 1e9, 0) {
		t.Fatal("T3 < T2 accepted")
	}
	// Hostile values that would overflow are rejected.
	if Consistent(-1<<63, 1<<62-1, 1<<62-1, 0, 0, 0, 0) || Consistent(0, 0, 0, 0, 1<<62, 0, 0) {
		t.Fatal("out-of-range values accepted")
	}
	if !Consistent(100, 0, 0, 200, 1e9, 1e9, 0) {
		t.Fatal("valid negative θ rejected")
	}
}

func TestReplayAndMisrouting(t *testing.T) {
	s := newSim(t, []int64{0, 0, 0}, []int64{1e6, 1e6, 1e6})
	a, b := s.nodes[0], s.nodes[1]
	probes := a.StartRound()
	r, err := b.HandleProbe(probes[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.HandleProbe(probes[0]); !errors.Is(err, ErrStale) {
		t.Fatal("replayed probe answered")
	}
	if err := a.HandleReply(r); err != nil {
		t.Fatal(err)
	}
	if err := a.HandleReply(r); !errors.Is(err, ErrStale) {
		t.Fatal("replayed reply accepted")
	}
	bad := probes[1]
	bad.To = 9
	if _, err := b.HandleProbe(bad); !errors.Is(err, ErrUnknownPeer) {
		t.Fatal("misrouted probe answered")
	}
	// An old reply from round 1 does not count in round 2.
	a.StartRound()
	if err := a.HandleReply(r); !errors.Is(err, ErrStale) {
		t.Fatal("reply from an old round accepted")
	}
	if _, err := New(Config{Self: 1, Peers: []NodeID{1, 2}, Clock: s.nodes[0].cfg.Clock}); err == nil {
		t.Fatal("self as peer accepted")
	}
}

func TestWireStrict(t *testing.T) {
	p := Probe{From: 1, To: 2, Seq: 3, T1: 4, Err: 5, HasTime: true, Prev: &Exchange{Seq: 2, T1: 1, T4: 2, Err: 3}}
	b, _ := p.MarshalBinary()
	if len(b) != ProbeLen {
		t.Fatal(len(b))
	}
	var q Probe
	if err := q.UnmarshalBinary(b); err != nil || *q.Prev != *p.Prev || q.Seq != 3 || !q.HasTime {
		t.Fatalf("%+v %v", q, err)
	}
	for _, bad := range [][]byte{b[:ProbeLen-1], append(bytes.Clone(b), 0), func() []byte { c := bytes.Clone(b); c[5] |= 4; return c }(),
		func() []byte { c := bytes.Clone(b); c[5] &^= 2; return c }(), func() []byte { c := bytes.Clone(b); c[0] = 'X'; return c }()} {
		var q Probe
		var de *DecodeError
		if err := q.UnmarshalBinary(bad); !errors.As(err, &de) {
			t.Fatalf("accepted %x", bad)
		}
	}
	r := Reply{From: 2, To: 1, Seq: 3, T1: 4, T2: 5, T3: 6, Err: 7, HasTime: true, Vouch: &Vouch{Seq: 2, Consistent: true}}
	rb, _ := r.MarshalBinary()
	var r2 Reply
	if err := r2.UnmarshalBinary(rb); err != nil || *r2.Vouch != *r.Vouch || r2.T3 != 6 {
		t.Fatalf("%+v %v", r2, err)
	}
	rb[5] = 4 // consistent without vouch
	if err := r2.UnmarshalBinary(rb); err == nil {
		t.Fatal("invalid flags accepted")
	}
}

func FuzzProbe(f *testing.F) {
	p := Probe{From: 1, To: 2, Seq: 3, T1: 4, Err: 5, HasTime: true, Prev: &Exchange{Seq: 2, T1: 1, T4: 2, Err: 3}}
	b, _ := p.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Probe
		if p.UnmarshalBinary(b) != nil {
			return
		}
		out, _ := p.MarshalBinary()
		if !bytes.Equal(out, b) {
			t.Fatal("non-canonical probe accepted")
		}
	})
}

func FuzzReply(f *testing.F) {
	r := Reply{From: 2, To: 1, Seq: 3, T1: 4, T2: 5, T3: 6, Err: 7, HasTime: true, Vouch: &Vouch{Seq: 2, Consistent: true}}
	b, _ := r.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Reply
		if r.UnmarshalBinary(b) != nil {
			return
		}
		out, _ := r.MarshalBinary()
		if !bytes.Equal(out, b) {
			t.Fatal("non-canonical reply accepted")
		}
	})
}

func BenchmarkRoundFiveNodes(b *testing.B) {
	s := newSim(b, []int64{0, 0, 0, 0, 0}, []int64{1e6, 1e6, 1e6, 1e6, 1e6})
	for b.Loop() {
		s.round(b)
	}
}
