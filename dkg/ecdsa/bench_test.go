package ecdsa

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the process's user+system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// presignSeq runs one session with all parties sequentially on the calling
// goroutine (so ns/op is the summed CPU of all parties) and returns the
// presignatures and the number of bytes sent.
func presignSeq(b *testing.B, ss [Parties + 1]*Signer, set []int) ([Parties + 1]*Presignature, int) {
	var sess [Parties + 1]*PresignSession
	var ps [Parties + 1]*Presignature
	var err error
	sid := randomSID()
	bytes := 0
	size := func(m codec) { x, _ := m.MarshalBinary(); bytes += len(x) }
	var m1 [Parties + 1][]*PresignRound1
	for _, i := range set {
		if sess[i], err = ss[i].NewPresign(sid, set); err != nil {
			b.Fatal(err)
		}
		if m1[i], err = sess[i].Round1(); err != nil {
			b.Fatal(err)
		}
	}
	var m2 [Parties + 1][]*PresignRound2
	for _, i := range set {
		var in []*PresignRound1
		for _, j := range set {
			for _, m := range m1[j] {
				if m.To == i {
					in = append(in, m)
					size(m)
				}
			}
		}
		if m2[i], err = sess[i].Round2(in); err != nil {
			b.Fatal(err)
		}
	}
	for _, i := range set {
		var in []*PresignRound2
		for _, j := range set {
			for _, m := range m2[j] {
				if m.To == i {
					in = append(in, m)
					size(m)
				}
			}
		}
		if ps[i], err = sess[i].Finalize(in); err != nil {
			b.Fatal(err)
		}
	}
	return ps, bytes
}

func BenchmarkDKG(b *testing.B) {
	if testing.Short() {
		b.Skip("DKG benchmark is slow")
	}
	for b.Loop() {
		if _, err := runDKG(b, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPresign measures one full presigning session with the three
// parties run sequentially; ns/party is the CPU cost per party.
func BenchmarkPresign(b *testing.B) {
	ks := confirmedShares(b)
	ss := newSigners(b, ks, SignerConfig{MaxPresignatures: 1 << 30})
	set := []int{1, 2, 3}
	var n int
	var cpu time.Duration
	for b.Loop() {
		c0 := cpuTime(b)
		ps, bytes := presignSeq(b, ss, set)
		cpu += cpuTime(b) - c0
		n = bytes
		for _, i := range set {
			Sign(ps[i], sha384([]byte("x"))) // release pool slots
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(set)), "ns/party")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(len(set)), "cpu-ns/party")
	b.ReportMetric(float64(n), "presign-bytes/sig")
}

// BenchmarkPresignParallel runs the parties on their own goroutines (wall
// time for a whole session on this machine).
func BenchmarkPresignParallel(b *testing.B) {
	ks := confirmedShares(b)
	ss := newSigners(b, ks, SignerConfig{MaxPresignatures: 1 << 30})
	set := []int{1, 2, 3}
	var cpu time.Duration
	for b.Loop() {
		c0 := cpuTime(b)
		ps, err := runPresign(b, ss, set, randomSID(), nil)
		cpu += cpuTime(b) - c0
		if err != nil {
			b.Fatal(err)
		}
		for _, i := range set {
			Sign(ps[i], sha384([]byte("x")))
		}
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(len(set)), "cpu-ns/party")
}

func BenchmarkOnlineSign(b *testing.B) {
	ks := confirmedShares(b)
	ss := newSigners(b, ks, SignerConfig{MaxPresignatures: 1 << 30})
	set := []int{1, 2, 3}
	d := sha384([]byte("online"))
	pool := make([]*Presignature, 0, 64)
	for b.Loop() {
		if len(pool) == 0 {
			b.StopTimer()
			for k := 0; k < 16; k++ {
				ps, _ := presignSeq(b, ss, set)
				pool = append(pool, ps[1])
			}
			b.StartTimer()
		}
		p := pool[len(pool)-1]
		pool = pool[:len(pool)-1]
		if _, err := Sign(p, d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCombineVerify(b *testing.B) {
	ks := confirmedShares(b)
	ss := newSigners(b, ks, SignerConfig{})
	set := []int{1, 2, 3}
	d := sha384([]byte("combine"))
	ps, _ := presignSeq(b, ss, set)
	var shares []*SignShare
	n := 0
	for _, i := range set {
		sh, err := Sign(ps[i], d)
		if err != nil {
			b.Fatal(err)
		}
		x, _ := sh.MarshalBinary()
		n += len(x)
		shares = append(shares, sh)
	}
	pub := ks[1].PublicKey()
	for b.Loop() {
		if _, err := Combine(pub, d, shares); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n), "online-bytes/sig")
}

// BenchmarkPresignRounds reports the CPU time of each round per party
// (process CPU, so the per-peer goroutines are included): round 1 (RVOLE
// receiver messages), round 2 (RVOLE sender, Γ points) and Finalize (RVOLE
// receiver finish, Γ checks). Message marshalling is not included.
func BenchmarkPresignRounds(b *testing.B) {
	ks := confirmedShares(b)
	ss := newSigners(b, ks, SignerConfig{MaxPresignatures: 1 << 30})
	set := []int{1, 2, 3}
	var cpu [3]time.Duration
	for b.Loop() {
		var sess [Parties + 1]*PresignSession
		var m1 [Parties + 1][]*PresignRound1
		var m2 [Parties + 1][]*PresignRound2
		var err error
		sid := randomSID()
		c0 := cpuTime(b)
		for _, i := range set {
			if sess[i], err = ss[i].NewPresign(sid, set); err != nil {
				b.Fatal(err)
			}
			if m1[i], err = sess[i].Round1(); err != nil {
				b.Fatal(err)
			}
		}
		c1 := cpuTime(b)
		for _, i := range set {
			var in []*PresignRound1
			for _, j := range set {
				for _, m := range m1[j] {
					if m.To == i {
						in = append(in, m)
					}
				}
			}
			if m2[i], err = sess[i].Round2(in); err != nil {
				b.Fatal(err)
			}
		}
		c2 := cpuTime(b)
		var ps [Parties + 1]*Presignature
		for _, i := range set {
			var in []*PresignRound2
			for _, j := range set {
				for _, m := range m2[j] {
					if m.To == i {
						in = append(in, m)
					}
				}
			}
			if ps[i], err = sess[i].Finalize(in); err != nil {
				b.Fatal(err)
			}
		}
		c3 := cpuTime(b)
		cpu[0] += c1 - c0
		cpu[1] += c2 - c1
		cpu[2] += c3 - c2
		for _, i := range set {
			Sign(ps[i], sha384([]byte("x")))
		}
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) / float64(len(set)) }
	b.ReportMetric(per(cpu[0]), "cpu-ns/party/round1")
	b.ReportMetric(per(cpu[1]), "cpu-ns/party/round2")
	b.ReportMetric(per(cpu[2]), "cpu-ns/party/finalize")
	b.ReportMetric(per(cpu[0]+cpu[1]+cpu[2]), "cpu-ns/party")
}
