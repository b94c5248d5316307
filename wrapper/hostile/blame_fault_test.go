//go:build ccfault

package hostile

import (
	"context"
	"slices"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/dkg/mldsa"
)

// TestMaliciousOracleNamed: a malicious oracle (node 2) that signs a
// malformed payload with its own identity key is named by the honest
// oracle that receives it; a reveal it signs over its own commitment but
// that does not open it names no one (no signature covers those bytes; the
// honest coordinator finds such a sender itself, see
// coordinator.TestMisbehavingOracles).
func TestMaliciousOracleNamed(t *testing.T) {
	c := cluster(t)
	cls := clients(c)
	evil := c.Oracles[1]
	st, err := cls[0].Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	keyID := wire.ClusterKeyID(st.MLDSAPublicKey, st.ECDSAPublicKey)
	wantCulprit := func(t *testing.T, err error, id string) {
		t.Helper()
		we := refused(t, err, wire.CodeRefused)
		if m := culpritRE.FindStringSubmatch(we.Message); m == nil || m[1] != id {
			t.Fatalf("refusal %v, want culprit node %s", we, id)
		}
	}

	t.Run("malformed commitment", func(t *testing.T) {
		s := beginSigning(t, cls)
		env, err := evil.FaultSeal(wire.EnvMLDSASign, keyID, wire.EnvelopeSession(s.sid), 1, peer.Broadcast, []byte{1, 2, 3}, false)
		if err != nil {
			t.Fatal(err)
		}
		bad := slices.Clone(s.cmts)
		bad[1] = env
		_, err = s.round(1, 2, bad)
		wantCulprit(t, err, "2")
	})
	t.Run("commitment claiming another sender", func(t *testing.T) {
		s := beginSigning(t, cls)
		want := peer.Header{Kind: wire.EnvMLDSASign, KeyID: keyID, Session: wire.EnvelopeSession(s.sid), Round: 1, Sender: 3, Receiver: peer.Broadcast}
		p, err := peer.Decode(s.cmts[2], want)
		if err != nil {
			t.Fatal(err)
		}
		env, err := evil.FaultSeal(wire.EnvMLDSASign, keyID, wire.EnvelopeSession(s.sid), 1, peer.Broadcast, p, false)
		if err != nil {
			t.Fatal(err)
		}
		bad := slices.Clone(s.cmts)
		bad[1] = env
		_, err = s.round(1, 2, bad)
		wantCulprit(t, err, "2")
	})
	t.Run("malformed presign batch", func(t *testing.T) {
		r := presignStep1(t, cls, []uint8{1, 2, 3})
		ctx, err := evil.FaultRelayContext(wire.ProtoECDSAPresign, r.sid, r.params, []uint8{1, 2, 3})
		if err != nil {
			t.Fatal(err)
		}
		env, err := evil.FaultSeal(wire.EnvECDSAPresign, keyID, ctx, 1, 1, []byte{1, 0xff}, true)
		if err != nil {
			t.Fatal(err)
		}
		r.out[2] = [][]byte{env}
		_, err = cls[0].Relay(context.Background(), &wire.RelayRequest{Protocol: wire.ProtoECDSAPresign, Session: r.sid, Step: 2, Params: r.params, Inbound: envelopesFor(t, r, 1)})
		wantCulprit(t, err, "2")
	})
	t.Run("reveal that does not open its commitment", func(t *testing.T) {
		s := beginSigning(t, cls)
		revs := s.roundAll(2, s.cmts)
		want := peer.Header{Kind: wire.EnvMLDSASign, KeyID: keyID, Session: wire.EnvelopeSession(s.sid), Round: 1, Sender: 2, Receiver: peer.Broadcast}
		p, err := peer.Decode(s.cmts[1], want)
		if err != nil {
			t.Fatal(err)
		}
		var cmt mldsa.Commitment
		if err := cmt.UnmarshalBinary(p); err != nil {
			t.Fatal(err)
		}
		want.Round = 2
		rp, err := peer.Decode(revs[1], want)
		if err != nil {
			t.Fatal(err)
		}
		env, err := evil.FaultSealCommitted(wire.EnvMLDSASign, keyID, wire.EnvelopeSession(s.sid), 2, flip(rp, len(rp)/2), cmt.Hash[:])
		if err != nil {
			t.Fatal(err)
		}
		bad := slices.Clone(revs)
		bad[1] = env
		_, err = s.round(1, 3, bad)
		namesNoOne(t, err, wire.CodeUnauthenticated)
	})
}
