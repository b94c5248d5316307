package ecdsa

import (
	"crypto/rand"
	"sync"
	"testing"
)

// runDKG runs all parties in-process, passing every message through its
// wire encoding. hook (may be nil) can tamper with messages in flight.
type dkgHook func(round int, msg any)

func roundtrip[T interface {
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}](t testing.TB, m T, fresh T) T {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if err := fresh.UnmarshalBinary(b); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return fresh
}

func runDKG(t testing.TB, hook dkgHook) ([Parties + 1]*KeyShare, error) {
	t.Helper()
	hook = serialize(hook)
	var sid [32]byte
	rand.Read(sid[:])
	var ds [Parties + 1]*DKG
	for i := 1; i <= Parties; i++ {
		d, err := NewDKG(DKGConfig{Self: i, SessionID: sid, Rand: rand.Reader})
		if err != nil {
			t.Fatal(err)
		}
		ds[i] = d
	}
	parallel := func(f func(i int) error) error {
		var wg sync.WaitGroup
		errs := make([]error, Parties+1)
		for i := 1; i <= Parties; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = f(i) }()
		}
		wg.Wait()
		for _, e := range errs {
			if e != nil {
				return e
			}
		}
		return nil
	}
	var out [Parties + 1]*KeyShare
	// Round 1
	var b1 [Parties + 1]*DKGRound1Broadcast
	var d1 [Parties + 1][]*DKGRound1Direct
	if err := parallel(func(i int) (err error) { b1[i], d1[i], err = ds[i].Round1(); return }); err != nil {
		return out, err
	}
	bcast1 := func(to int) (o []*DKGRound1Broadcast) {
		for j := 1; j <= Parties; j++ {
			if j != to {
				m := roundtrip(t, b1[j], new(DKGRound1Broadcast))
				if hook != nil {
					hook(1, m)
				}
				o = append(o, m)
			}
		}
		return
	}
	dir1 := func(to int) (o []*DKGRound1Direct) {
		for j := 1; j <= Parties; j++ {
			for _, m := range d1[j] {
				if m.To == to {
					m := roundtrip(t, m, new(DKGRound1Direct))
					if hook != nil {
						hook(1, m)
					}
					o = append(o, m)
				}
			}
		}
		return
	}
	var b2 [Parties + 1]*DKGRound2Broadcast
	var d2 [Parties + 1][]*DKGRound2Direct
	if err := parallel(func(i int) (err error) { b2[i], d2[i], err = ds[i].Round2(bcast1(i), dir1(i)); return }); err != nil {
		return out, err
	}
	bcast2 := func(to int) (o []*DKGRound2Broadcast) {
		for j := 1; j <= Parties; j++ {
			if j != to {
				m := roundtrip(t, b2[j], new(DKGRound2Broadcast))
				if hook != nil {
					hook(2, m)
				}
				o = append(o, m)
			}
		}
		return
	}
	dir2 := func(to int) (o []*DKGRound2Direct) {
		for j := 1; j <= Parties; j++ {
			for _, m := range d2[j] {
				if m.To == to {
					m := roundtrip(t, m, new(DKGRound2Direct))
					if hook != nil {
						hook(2, m)
					}
					o = append(o, m)
				}
			}
		}
		return
	}
	var b3 [Parties + 1]*DKGRound3Broadcast
	var d3 [Parties + 1][]*DKGOTDirect
	if err := parallel(func(i int) (err error) { b3[i], d3[i], err = ds[i].Round3(bcast2(i), dir2(i)); return }); err != nil {
		return out, err
	}
	bcast3 := func(to int) (o []*DKGRound3Broadcast) {
		for j := 1; j <= Parties; j++ {
			if j != to {
				m := roundtrip(t, b3[j], new(DKGRound3Broadcast))
				if hook != nil {
					hook(3, m)
				}
				o = append(o, m)
			}
		}
		return
	}
	dirOT := func(round int, d [Parties + 1][]*DKGOTDirect, to int) (o []*DKGOTDirect) {
		for j := 1; j <= Parties; j++ {
			for _, m := range d[j] {
				if m.To == to {
					m := roundtrip(t, m, new(DKGOTDirect))
					if hook != nil {
						hook(round, m)
					}
					o = append(o, m)
				}
			}
		}
		return
	}
	var d4 [Parties + 1][]*DKGOTDirect
	if err := parallel(func(i int) (err error) { d4[i], err = ds[i].Round4(bcast3(i), dirOT(3, d3, i)); return }); err != nil {
		return out, err
	}
	var d5 [Parties + 1][]*DKGOTDirect
	if err := parallel(func(i int) (err error) { d5[i], err = ds[i].Round5(dirOT(4, d4, i)); return }); err != nil {
		return out, err
	}
	if err := parallel(func(i int) (err error) { out[i], err = ds[i].Finish(dirOT(5, d5, i)); return }); err != nil {
		return out, err
	}
	return out, nil
}

// serialize makes a hook safe to call from the per-party goroutines.
func serialize[H ~func(int, any)](h H) H {
	if h == nil {
		return nil
	}
	var mu sync.Mutex
	return func(r int, m any) { mu.Lock(); defer mu.Unlock(); h(r, m) }
}

var (
	fixtureOnce   sync.Once
	fixtureShares [Parties + 1]*KeyShare
	fixtureErr    error
)

// testShares returns key shares from one shared DKG run (the DKG costs a few
// seconds of CPU, so the tests share it). Tests must not zeroize them.
func testShares(t testing.TB) [Parties + 1]*KeyShare {
	t.Helper()
	fixtureOnce.Do(func() { fixtureShares, fixtureErr = runDKG(t, nil) })
	if fixtureErr != nil {
		t.Fatalf("DKG: %v", fixtureErr)
	}
	return fixtureShares
}
