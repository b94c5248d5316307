package crosscheck

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/timesync/clock"
	"github.com/cc-tsa/cc-tsa/timesync/interval"
)

type simMono struct{ t *atomic.Int64 }

func (m simMono) Now() int64 { return m.t.Load() }

// Five nodes wired as the oracle will wire them: each node's clock.Health
// supplies PeerClock, each round's Verdict goes to ObservePeers. Node 3's NTS
// anchor is 200 ms wrong: it stays untrusted, the other four become trusted.
func TestWithHealthStateMachines(t *testing.T) {
	var mono atomic.Int64
	mono.Store(1e12)
	const base = 1_700_000_000e9
	n := 5
	healths := make([]*clock.Health, n)
	checkers := make([]*Checker, n)
	for i := range n {
		h, err := clock.NewHealth(clock.Config{AllowDevPlatform: true, RequirePeers: true, ReferenceBase: base},
			simMono{&mono}, &clock.Platform{Clocksource: "sim"})
		if err != nil {
			t.Fatal(err)
		}
		off := int64(0)
		if i == 2 {
			off = 200e6
		}
		for k := 0; k < 2; k++ {
			mono.Add(int64(time.Second))
			h.ObserveNTS(interval.Result{Interval: interval.Around(off, 2e6)}, mono.Load())
		}
		healths[i] = h
		var peers []NodeID
		for j := range n {
			if j != i {
				peers = append(peers, NodeID(j+1))
			}
		}
		checkers[i], err = New(Config{Self: NodeID(i + 1), Peers: peers, Clock: h.PeerClock})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range healths {
		if h.Read().Trusted() {
			t.Fatal("trusted before any peer verdict")
		}
	}
	for round := 0; round < 2; round++ {
		for _, a := range checkers {
			for _, p := range a.StartRound() {
				mono.Add(500e3)
				r, err := checkers[p.To-1].HandleProbe(p)
				if err != nil {
					t.Fatal(err)
				}
				mono.Add(500e3)
				if err := a.HandleReply(r); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i, c := range checkers {
			v := c.Verdict()
			healths[i].ObservePeers(v.OK(), mono.Load(), v.String())
		}
	}
	for i, h := range healths {
		r := h.Read()
		if (i == 2) == r.Trusted() {
			t.Fatalf("node %d: trusted=%v (%s)", i+1, r.Trusted(), r.Reason)
		}
	}
}
