//go:build ccfault

package hostile

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/attest"
	"github.com/cc-tsa/cc-tsa/cvm/membership"
	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/internal/testtsa"
	"github.com/cc-tsa/cc-tsa/wrapper/oracleclient"
)

// challenges collects one fresh challenge from each client, by node id.
func challenges(t *testing.T, cls map[uint8]*oracleclient.Client) []wire.Challenge {
	t.Helper()
	var out []wire.Challenge
	for id := uint8(1); id <= wire.MaxSigners; id++ {
		cl, ok := cls[id]
		if !ok {
			continue
		}
		resp, err := cl.Relay(context.Background(), &wire.RelayRequest{Protocol: wire.ProtoMembership, Step: 1})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, wire.Challenge{Node: id, Value: [wire.NonceSize]byte(resp.Result)})
	}
	return out
}

// forged is the capability of a compromised enclave: evidence, under the
// simulated platform's public fake keys, for any claim it likes.
func forged(t *testing.T, c *membership.Claim, nonce [wire.NonceSize]byte) []byte {
	t.Helper()
	dev, err := attest.NewSimulated(attest.SimulatedConfig{Measurement: testtsa.SimulatedMeasurement()})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := dev.Attest(attest.ReportData(c.Marshal(), nil, nonce[:]))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func status(t *testing.T, cl *oracleclient.Client) *wire.Status {
	t.Helper()
	st, err := cl.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestKeyTheftByRelabelling is finding 1 of issue 10: a coordinator that
// holds node 4's genuine Hello (and, as a compromised enclave, node 4's
// keys) tries to have helpers re-share index 2's secrets to node 4. Every
// path is refused and no secret leaves a helper.
func TestKeyTheftByRelabelling(t *testing.T) {
	c := testtsa.StartClusterWith(t, testtsa.ClusterConfig{Nodes: 5, Threshold: 3, Attested: true})
	ctx := context.Background()
	cl := clients(c)
	byID := map[uint8]*oracleclient.Client{}
	for i, x := range cl {
		byID[uint8(i+1)] = x
	}
	chs := challenges(t, byID)
	nonce := membership.Nonce(chs)
	hellos := make([]wire.Hello, 5)
	for i, x := range cl {
		h, err := x.Hello(ctx, &wire.HelloRequest{Nonce: nonce})
		if err != nil {
			t.Fatal(err)
		}
		hellos[i] = *h
	}
	node4 := hellos[3]

	t.Run("peers relabel", func(t *testing.T) {
		// The old attack: a Peers message in which node 4's Hello says 2.
		relabelled := node4
		relabelled.NodeID = 2
		peers := append([]wire.Hello{}, hellos...)
		peers[1] = relabelled
		for i, x := range cl {
			if i == 1 {
				continue
			}
			err := x.Peers(ctx, &wire.PeersRequest{Challenges: challenges(t, map[uint8]*oracleclient.Client{uint8(i + 1): x}), Peers: peers})
			we := refused(t, err, wire.CodeRefused)
			if !strings.Contains(we.Message, "membership is fixed") {
				t.Fatalf("node %d: %v", i+1, we)
			}
		}
	})

	t.Run("reshare without admission", func(t *testing.T) {
		// Helpers {1,3,5} asked to re-share index 2 while node 2's
		// identity is the ceremony's: refused before anything is sealed.
		var sid [32]byte
		rand.Read(sid[:])
		for _, h := range []int{0, 2, 4} {
			resp, err := cl[h].Relay(ctx, &wire.RelayRequest{Protocol: wire.ProtoReshare, Session: sid, Step: 1, Params: []byte{2, 1, 3, 5}})
			if err == nil {
				t.Fatalf("helper %d re-shared index 2 (%d envelopes)", h+1, len(resp.Outbound))
			}
			we := refused(t, err, wire.CodeRefused)
			if !strings.Contains(we.Message, "did not join") {
				t.Fatalf("helper %d: %v", h+1, we)
			}
		}
	})

	// A membership change that would give index 2 to node 4's identity,
	// endorsed by the helpers it needs.
	change := func(joiner wire.Hello, chs []wire.Challenge) *wire.MemberChange {
		return &wire.MemberChange{Index: 2, Challenges: chs, Joiner: joiner}
	}
	endorse := func(t *testing.T, helper int, mc *wire.MemberChange) error {
		t.Helper()
		p, err := mc.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl[helper].Relay(ctx, &wire.RelayRequest{Protocol: wire.ProtoMembership, Step: 2, Params: p})
		return err
	}
	st := status(t, cl[0])
	helpersOf2 := map[uint8]*oracleclient.Client{1: cl[0], 3: cl[2], 5: cl[4]}

	t.Run("genuine hello relabelled", func(t *testing.T) {
		chs := challenges(t, helpersOf2)
		nonce := membership.Nonce(chs)
		h, err := cl[3].Hello(ctx, &wire.HelloRequest{Nonce: nonce, Cluster: st.Cluster, Epoch: st.Epoch + 1})
		if err != nil {
			t.Fatal(err)
		}
		// A member claims its own index and epoch whatever it is asked.
		if h.NodeID != 4 || h.Epoch != st.Epoch || h.Cluster != st.Cluster {
			t.Fatalf("node 4 claims node %d epoch %d", h.NodeID, h.Epoch)
		}
		relabelled := *h
		relabelled.NodeID, relabelled.Epoch = 2, st.Epoch+1
		for _, helper := range []int{0, 2, 4} {
			we := refused(t, endorse(t, helper, change(relabelled, chs)), wire.CodeRefused)
			if !strings.Contains(we.Message, "attestation refused") {
				t.Fatalf("helper %d: %v", helper+1, we)
			}
		}
	})

	t.Run("compromised enclave reuses its identity", func(t *testing.T) {
		// Node 4 compromised: evidence for a claim of index 2 with its own
		// identity keys. Fresh evidence, right claim: refused, because the
		// identity is a member already.
		chs := challenges(t, helpersOf2)
		nonce := membership.Nonce(chs)
		claim := &membership.Claim{Cluster: st.Cluster, Epoch: st.Epoch + 1, Index: 2, Nodes: 5, Threshold: 3, Keys: node4.Identity}
		j := wire.Hello{NodeID: 2, Nodes: 5, Threshold: 3, Attestation: wire.AttestationSimulated, Cluster: st.Cluster, Epoch: st.Epoch + 1,
			Identity: node4.Identity, Evidence: forged(t, claim, nonce)}
		for _, helper := range []int{0, 2, 4} {
			we := refused(t, endorse(t, helper, change(j, chs)), wire.CodeRefused)
			if !strings.Contains(we.Message, "has been a member") {
				t.Fatalf("helper %d: %v", helper+1, we)
			}
		}
	})

	t.Run("stale or foreign nonce", func(t *testing.T) {
		// Evidence for a nonce the helper did not contribute to.
		id, err := peer.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		var nonce [wire.NonceSize]byte
		rand.Read(nonce[:])
		chs := []wire.Challenge{{Node: 1, Value: nonce}}
		claim := &membership.Claim{Cluster: st.Cluster, Epoch: st.Epoch + 1, Index: 2, Nodes: 5, Threshold: 3, Keys: id.Public().Marshal()}
		j := wire.Hello{NodeID: 2, Nodes: 5, Threshold: 3, Attestation: wire.AttestationSimulated, Cluster: st.Cluster, Epoch: st.Epoch + 1,
			Identity: id.Public().Marshal(), Evidence: forged(t, claim, membership.Nonce(chs))}
		we := refused(t, endorse(t, 0, change(j, chs)), wire.CodeRefused)
		if !strings.Contains(we.Message, "outstanding challenge") {
			t.Fatalf("helper 1: %v", we)
		}
	})

	t.Run("commit without endorsements", func(t *testing.T) {
		id, err := peer.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		chs := challenges(t, helpersOf2)
		nonce := membership.Nonce(chs)
		claim := &membership.Claim{Cluster: st.Cluster, Epoch: st.Epoch + 1, Index: 2, Nodes: 5, Threshold: 3, Keys: id.Public().Marshal()}
		j := wire.Hello{NodeID: 2, Nodes: 5, Threshold: 3, Attestation: wire.AttestationSimulated, Cluster: st.Cluster, Epoch: st.Epoch + 1,
			Identity: id.Public().Marshal(), Evidence: forged(t, claim, nonce)}
		mc := change(j, chs)
		// Two endorsements (what two malicious oracles can give), one of
		// them forged with the attacker's own key under node 3's name.
		good, err := cl[0].Relay(ctx, &wire.RelayRequest{Protocol: wire.ProtoMembership, Step: 2, Params: mustMarshal(t, mc)})
		if err != nil {
			t.Fatal(err)
		}
		var e1 wire.Endorsement
		if err := e1.Unmarshal(good.Result); err != nil {
			t.Fatal(err)
		}
		fake := wire.Endorsement{Signer: 3, Used: 0, Signature: make([]byte, 64)}
		for _, es := range [][]wire.Endorsement{{e1}, {e1, fake}, {e1, e1, e1}} {
			mc.Endorsements = es
			for _, x := range []int{2, 4} {
				_, err := cl[x].Relay(ctx, &wire.RelayRequest{Protocol: wire.ProtoMembership, Step: 3, Params: mustMarshal(t, mc)})
				we := refused(t, err, wire.CodeRefused)
				if !strings.Contains(we.Message, "endorsement") {
					t.Fatalf("node %d: %v", x+1, we)
				}
			}
		}
		if got := status(t, cl[2]).Epoch; got != st.Epoch {
			t.Fatalf("epoch moved to %d", got)
		}
	})

	// Nothing above changed the membership, and the cluster still signs.
	for i, x := range cl {
		if s := status(t, x); s.Epoch != st.Epoch || s.Cluster != st.Cluster {
			t.Fatalf("node %d moved to epoch %d", i+1, s.Epoch)
		}
	}
	issueToken(t, c)
}

func mustMarshal(t *testing.T, m interface{ Marshal() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLiveNodeNotReplaced: with the production silence guard, no endorser
// replaces an index it has heard from recently.
func TestLiveNodeNotReplaced(t *testing.T) {
	c := testtsa.StartClusterWith(t, testtsa.ClusterConfig{Nodes: 5, Threshold: 3, Attested: true, SilenceBeforeChange: 3600e9})
	issueToken(t, c)
	err := c.Replace(t, 2)
	if err == nil || !strings.Contains(err.Error(), "must be silent") {
		t.Fatalf("replacing a live node: %v", err)
	}
	issueToken(t, c)
}
