//go:build ccfault

package hostile

import (
	"context"
	"crypto/rand"
	"regexp"
	"slices"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/oracleclient"
)

var culpritRE = regexp.MustCompile(`culprit node (\d+)`)

// namesNoOne fails the test unless err is an unattributed refusal: a typed
// oracle error with one of codes whose message names no culprit.
func namesNoOne(t *testing.T, err error, codes ...wire.ErrorCode) {
	t.Helper()
	we := refused(t, err, codes...)
	if m := culpritRE.FindString(we.Message); m != "" {
		t.Fatalf("a relay's tampering got %q named: %v", m, we)
	}
}

// flip returns a copy of b with one byte altered at offset i (negative
// offsets count from the end).
func flip(b []byte, i int) []byte {
	out := slices.Clone(b)
	if i < 0 {
		i += len(out)
	}
	out[i] ^= 0x01
	return out
}

// signing is a signing session that the hostile coordinator drives by hand
// on signer set 1, 2, 3 (ML-DSA only, so no presignature is needed).
type signing struct {
	t    *testing.T
	cls  []*oracleclient.Client
	sid  wire.SessionID
	set  []uint8
	cmts [][]byte // round-1 envelopes, by position in set
}

func beginSigning(t *testing.T, cls []*oracleclient.Client) *signing {
	t.Helper()
	ctx := context.Background()
	s := &signing{t: t, cls: cls, set: []uint8{1, 2, 3}}
	rand.Read(s.sid[:])
	f := wire.TokenFields{Policy: wire.PolicyMLDSA, HashAlg: wire.SHA256, Imprint: make([]byte, 32)}
	prop, err := cls[0].Propose(ctx, &wire.ProposeRequest{Signers: s.set, Fields: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range s.set {
		b, err := cls[id-1].Begin(ctx, &wire.BeginRequest{Session: s.sid, Signers: s.set, Fields: f, Proposal: *prop})
		if err != nil {
			t.Fatalf("begin on node %d: %v", id, err)
		}
		s.cmts = append(s.cmts, b.Round1)
	}
	t.Cleanup(func() {
		for _, id := range s.set {
			cls[id-1].End(context.Background(), s.sid)
		}
	})
	return s
}

// inbound lists envs (by position in the set) as a round's inbound messages.
func (s *signing) inbound(envs [][]byte) []wire.RoundMessage {
	in := make([]wire.RoundMessage, len(s.set))
	for i, id := range s.set {
		in[i] = wire.RoundMessage{From: id, Payload: envs[i]}
	}
	return in
}

// round runs round r on node id with the given inbound envelopes.
func (s *signing) round(id uint8, r uint8, envs [][]byte) ([]byte, error) {
	resp, err := s.cls[id-1].Round(context.Background(), &wire.RoundRequest{Session: s.sid, Scheme: wire.SchemeMLDSA65, Round: r, Inbound: s.inbound(envs)})
	if err != nil {
		return nil, err
	}
	return resp.Payload, nil
}

// roundAll runs round r honestly on every signer.
func (s *signing) roundAll(r uint8, envs [][]byte) [][]byte {
	s.t.Helper()
	var out [][]byte
	for _, id := range s.set {
		p, err := s.round(id, r, envs)
		if err != nil {
			s.t.Fatalf("round %d on node %d: %v", r, id, err)
		}
		out = append(out, p)
	}
	return out
}

// TestRelayTamperingNamesNoOne: a relay that alters one byte of an honest
// node's signing-round or presigning envelope gets a refusal that names no
// one (wire.CodeUnauthenticated), never the honest sender.
func TestRelayTamperingNamesNoOne(t *testing.T) {
	c := cluster(t)
	cls := clients(c)

	t.Run("commitment", func(t *testing.T) {
		for _, at := range []int{10, 150, -1} {
			s := beginSigning(t, cls) // a refusal ends the attempt
			bad := slices.Clone(s.cmts)
			bad[1] = flip(bad[1], at)
			_, err := s.round(1, 2, bad)
			namesNoOne(t, err, wire.CodeUnauthenticated)
		}
	})
	t.Run("reveal", func(t *testing.T) {
		// In the payload (which only the commitment binds), in the header
		// and in the signature.
		for _, at := range []int{100000, 5, -3} {
			s := beginSigning(t, cls)
			revs := s.roundAll(2, s.cmts)
			bad := slices.Clone(revs)
			bad[1] = flip(bad[1], at)
			_, err := s.round(1, 3, bad)
			namesNoOne(t, err, wire.CodeUnauthenticated)
		}
	})
	t.Run("response", func(t *testing.T) {
		s := beginSigning(t, cls)
		revs := s.roundAll(2, s.cmts)
		// Node 1 responds; its response, altered, is then offered to node
		// 2 in place of node 1's reveal.
		resp, err := s.round(1, 3, revs)
		if err != nil {
			t.Fatal(err)
		}
		bad := slices.Clone(revs)
		bad[0] = flip(resp, len(resp)/2)
		_, err = s.round(2, 3, bad)
		namesNoOne(t, err, wire.CodeUnauthenticated)
	})
	t.Run("presign", func(t *testing.T) {
		for _, pos := range []int{0, 3, -1} {
			// A failed step ends the run, so each alteration gets its own.
			out := presignStep1(t, cls, []uint8{1, 2, 3})
			to1 := envelopesFor(t, out, 1)
			at := pos
			if pos == 0 {
				at = len(to1[0]) / 2
			}
			bad := slices.Clone(to1)
			bad[0] = flip(bad[0], at)
			_, err := cls[0].Relay(context.Background(), &wire.RelayRequest{Protocol: wire.ProtoECDSAPresign, Session: out.sid, Step: 2, Params: out.params, Inbound: bad})
			namesNoOne(t, err, wire.CodeUnauthenticated)
		}
		// An exact duplicate of an honest envelope names no one either.
		out := presignStep1(t, cls, []uint8{1, 2, 3})
		to1 := envelopesFor(t, out, 1)
		_, err := cls[0].Relay(context.Background(), &wire.RelayRequest{Protocol: wire.ProtoECDSAPresign, Session: out.sid, Step: 2, Params: out.params, Inbound: append(to1, to1[0])})
		namesNoOne(t, err, wire.CodeBadRequest)
	})
}

// presignRun is step 1 of a presigning relay session.
type presignRun struct {
	sid    [32]byte
	params []byte
	out    map[uint8][][]byte // envelopes by producer
}

func presignStep1(t *testing.T, cls []*oracleclient.Client, set []uint8) *presignRun {
	t.Helper()
	r := &presignRun{params: append(slices.Clone(set), 1), out: map[uint8][][]byte{}}
	rand.Read(r.sid[:])
	for _, id := range set {
		resp, err := cls[id-1].Relay(context.Background(), &wire.RelayRequest{Protocol: wire.ProtoECDSAPresign, Session: r.sid, Step: 1, Params: r.params})
		if err != nil {
			t.Fatalf("presign step 1 on node %d: %v", id, err)
		}
		r.out[id] = resp.Outbound
	}
	return r
}

// envelopesFor returns the step's envelopes addressed to node to, in
// producer order.
func envelopesFor(t *testing.T, r *presignRun, to uint8) [][]byte {
	t.Helper()
	var out [][]byte
	for from := uint8(1); from <= 5; from++ {
		for _, raw := range r.out[from] {
			var e peer.Envelope
			if err := e.Unmarshal(raw); err != nil {
				t.Fatal(err)
			}
			if e.Receiver == to || (e.Receiver == peer.Broadcast && from != to) {
				out = append(out, raw)
			}
		}
	}
	return out
}
