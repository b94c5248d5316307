//go:build ccfault

package hostile

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/oracle"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/oracleclient"
)

// mldsaFields are the fields of an ML-DSA-only token, which needs no
// presignature.
func mldsaFields(b byte) *wire.TokenFields {
	im := make([]byte, 32)
	im[0] = b
	return &wire.TokenFields{Policy: wire.PolicyMLDSA, HashAlg: wire.SHA256, Imprint: im}
}

// retime moves a proposal to genTime g with accuracy a and rewrites its
// serial number to embed g and the signer set, as the coordinator can: the
// proposal is not authenticated, so only the signers' own checks stop it.
func retime(p wire.Proposal, g time.Time, a time.Duration, signers []uint8) *wire.Proposal {
	g = g.Truncate(time.Microsecond)
	p.GenTimeUnix, p.GenTimeNanos = g.Unix(), uint32(g.Nanosecond())
	p.AccuracyMicros = uint64(a / time.Microsecond)
	s := append([]byte(nil), p.Serial...)
	var m byte
	for _, id := range signers {
		m |= 1 << (id - 1)
	}
	s[0] = 0x40 | m
	binary.BigEndian.PutUint64(s[1:9], uint64(g.UnixMicro()))
	p.Serial = s
	return &p
}

func sessionID(b byte) wire.SessionID {
	var s wire.SessionID
	s[0], s[15] = 0xa5, b
	return s
}

// refusedBy fails unless every signer of set refuses req (with the
// proposal's own signer set) with CodeRefused and a message containing msg.
func refusedBy(t *testing.T, cl []*oracleclient.Client, set []uint8, req wire.BeginRequest, msg string) {
	t.Helper()
	for _, id := range set {
		_, err := cl[id-1].Begin(context.Background(), &req)
		if we := refused(t, err, wire.CodeRefused); !strings.Contains(we.Message, msg) {
			t.Errorf("node %d: refusal %q, want %q", id, we.Message, msg)
		}
	}
}

// TestHostileTime plays a malicious coordinator against the time and serial
// checks of a 3-of-5 cluster (every oracle honest, 50 ms clock bounds), and
// checks that honest tokens still issue.
func TestHostileTime(t *testing.T) {
	c := cluster(t)
	cl := clients(c)
	ctx := context.Background()
	set := []uint8{1, 2, 3}
	genuine := func(t *testing.T, b byte) (*wire.TokenFields, *wire.Proposal) {
		t.Helper()
		f := mldsaFields(b)
		p, err := cl[0].Propose(ctx, &wire.ProposeRequest{Signers: set, Fields: *f})
		if err != nil {
			t.Fatal(err)
		}
		return f, p
	}

	t.Run("LeaderClaimsRoundTrip", func(t *testing.T) {
		_, p := genuine(t, 0)
		// 3 × 50 ms + 2 ms + the default slack: see oracle.proposedAccuracy.
		if want := uint64(152_000 + oracle.DefaultProposalSlack/time.Microsecond); p.AccuracyMicros != want {
			t.Fatalf("leader claims %d µs, want %d", p.AccuracyMicros, want)
		}
		if p.Serial[0] != 0x47 || binary.BigEndian.Uint64(p.Serial[1:9]) != uint64(p.GenTimeUnix*1e6+int64(p.GenTimeNanos/1000)) {
			t.Fatalf("serial %x does not embed the set {1,2,3} and genTime", p.Serial)
		}
		if _, err := cl[0].Propose(ctx, &wire.ProposeRequest{Signers: []uint8{2, 3, 4}, Fields: *mldsaFields(0)}); err == nil {
			t.Fatal("node 1 proposed for a set without it")
		}
	})

	t.Run("BackdatedFutureDatedTooWide", func(t *testing.T) {
		f, p := genuine(t, 1)
		g := time.Unix(p.GenTimeUnix, int64(p.GenTimeNanos))
		for i, c := range []struct {
			name string
			g    time.Time
			a    time.Duration
			msg  string
		}{
			{"backdated 10.04 s ± 20 ms", g.Add(-10040 * time.Millisecond), 20 * time.Millisecond, "behind"},
			{"backdated 1 s ± 202 ms", g.Add(-time.Second), 202 * time.Millisecond, "behind"},
			{"backdated 1 h 9 s ± 1 h", g.Add(-time.Hour - 9*time.Second), time.Hour, "too wide"},
			{"future-dated 1 h ± 1 h", g.Add(time.Hour), time.Hour, "too wide"},
			{"future-dated 1 s ± 202 ms", g.Add(time.Second), 202 * time.Millisecond, "ahead"},
			{"future-dated 2 s ± 1 s", g.Add(2 * time.Second), time.Second, "ahead"},
			{"now ± 1 s + 1 µs", g, time.Second + time.Microsecond, "too wide"},
			{"now ± 40 ms (under the signers' bound)", g, 40 * time.Millisecond, ""},
		} {
			req := wire.BeginRequest{Session: sessionID(byte(10 + i)), Signers: set, Fields: *f, Proposal: *retime(*p, c.g, c.a, set)}
			refusedBy(t, cl, set, req, c.msg)
		}
	})

	t.Run("SerialBindsSignerSetAndTime", func(t *testing.T) {
		f, p := genuine(t, 2)
		// The serial of a {1,2,3} proposal presented to {1,2,4}.
		other := []uint8{1, 2, 4}
		refusedBy(t, cl, other, wire.BeginRequest{Session: sessionID(30), Signers: other, Fields: *f, Proposal: *p}, "names signer set")
		// A genTime one microsecond off the serial's.
		q := *p
		q.GenTimeNanos = (q.GenTimeNanos + 1000) % 1e9
		refusedBy(t, cl, set, wire.BeginRequest{Session: sessionID(31), Signers: set, Fields: *f, Proposal: q}, "embeds genTime")
	})

	t.Run("ReplayedBeginRefused", func(t *testing.T) {
		f, p := genuine(t, 3)
		req := wire.BeginRequest{Session: sessionID(40), Signers: set, Fields: *f, Proposal: *p}
		if _, err := cl[1].Begin(ctx, &req); err != nil {
			t.Fatal(err)
		}
		if err := cl[1].End(ctx, req.Session); err != nil {
			t.Fatal(err)
		}
		refusedBy(t, cl, []uint8{2}, req, "used before")
		// The same serial for another imprint, under a fresh session id.
		again := req
		again.Session, again.Fields = sessionID(41), *mldsaFields(4)
		refusedBy(t, cl, []uint8{2}, again, "serial number was used before")
		// 80 s later (node 2's clock moved, not slept): the time check
		// refuses what the record may have dropped.
		c.Clocks[1].SetOffset(80 * time.Second)
		defer c.Clocks[1].SetOffset(0)
		again.Session = sessionID(42)
		refusedBy(t, cl, []uint8{2}, req, "")
		refusedBy(t, cl, []uint8{2}, again, "")
	})

	t.Run("HonestTokensIssue", func(t *testing.T) {
		for i, pol := range []wire.Policy{wire.PolicyHybrid, wire.PolicyMLDSA} {
			f := mldsaFields(byte(50 + i))
			f.Policy = pol
			iss, err := c.Coordinator.Issue(ctx, f)
			if err != nil {
				t.Fatalf("policy %d: %v", pol, err)
			}
			s := iss.Info.Serial.Bytes()
			var m byte
			for _, id := range iss.Signers {
				m |= 1 << (id - 1)
			}
			if len(s) != 16 || s[0] != 0x40|m || int64(binary.BigEndian.Uint64(s[1:9])) != iss.Info.GenTime.UnixMicro() {
				t.Errorf("token serial %x, signers %v, genTime %v", s, iss.Signers, iss.Info.GenTime)
			}
			if iss.Info.Accuracy < 150*time.Millisecond || iss.Info.Accuracy > time.Second {
				t.Errorf("token accuracy %v", iss.Info.Accuracy)
			}
		}
	})
}
