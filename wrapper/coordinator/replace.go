package coordinator

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/oracleclient"
)

// Replacement is a new oracle process taking over a node id.
type Replacement struct {
	ID     uint8
	Client *oracleclient.Client
}

// Replace hands new oracle processes the shares of the node ids they take
// over, from Threshold live nodes, without changing the public keys or the
// certificates: every node is attested afresh (the replacements have new
// identities), the live nodes re-share to each replacement (ML-DSA: the
// subset secrets it belongs to; ECDSA: Shamir re-sharing at its index),
// each replacement sets up its pairwise ECDSA material with every other
// node, all signer subsets confirm the key again, and the certificates are
// installed on the replacements. Fewer than Threshold live nodes means a
// new ceremony.
func (c *Coordinator) Replace(ctx context.Context, reps []Replacement, check AttestationCheck, install *wire.InstallRequest) error {
	if !c.threshold() {
		return errors.New("coordinator: a single oracle cannot be replaced; restart development mode")
	}
	var targets []*Node
	targetIDs := map[uint8]bool{}
	for _, r := range reps {
		st, err := r.Client.Status(ctx)
		if err != nil {
			return fmt.Errorf("replacement for node %d: %w", r.ID, err)
		}
		if st.NodeID != r.ID || st.State != wire.StateCeremony {
			return fmt.Errorf("replacement for node %d is node %d in state %v", r.ID, st.NodeID, st.State)
		}
		n := &Node{Client: r.Client}
		n.SetStatus(st)
		targets = append(targets, n)
		targetIDs[r.ID] = true
	}
	var live []*Node
	for _, n := range c.Nodes() {
		if targetIDs[n.ID()] {
			continue
		}
		if st, err := n.Client.Status(ctx); err == nil && st.State == wire.StateReady {
			n.SetStatus(st)
			live = append(live, n)
		}
	}
	if len(live) < c.cfg.Threshold {
		return fmt.Errorf("coordinator: only %d live nodes; %d are needed to re-share (otherwise run a new ceremony)", len(live), c.cfg.Threshold)
	}
	all := append(slices.Clone(live), targets...)
	slices.SortFunc(all, func(a, b *Node) int { return int(a.ID()) - int(b.ID()) })
	hellos, nonce, _, err := Attest(ctx, all, check)
	if err != nil {
		return err
	}
	peers := &wire.PeersRequest{Nonce: nonce}
	for _, h := range hellos {
		peers.Peers = append(peers.Peers, *h)
	}
	if _, err := parallel(all, func(n *Node) (struct{}, error) { return struct{}{}, n.Client.Peers(ctx, peers) }); err != nil {
		return fmt.Errorf("peer attestation: %w", err)
	}
	helpers := live[:c.cfg.Threshold]
	want := append(c.mldsaPub.Bytes(), c.ecdsaPubBytes()...)
	for _, t := range targets {
		set := append(slices.Clone(helpers), t)
		slices.SortFunc(set, func(a, b *Node) int { return int(a.ID()) - int(b.ID()) })
		var sid [32]byte
		rand.Read(sid[:])
		params := append([]byte{t.ID()}, ids(helpers)...)
		results, err := runRelay(ctx, set, wire.ProtoReshare, sid, 2, params)
		if err != nil {
			return fmt.Errorf("re-sharing to node %d: %w", t.ID(), err)
		}
		got := results[slices.Index(set, t)]
		if !bytes.Equal(got, want) {
			return &NodeError{Node: t.ID(), Err: errors.New("re-shared keys do not match the TSA's public keys")}
		}
	}
	for _, t := range targets {
		for _, n := range all {
			if n == t || (targetIDs[n.ID()] && n.ID() < t.ID()) {
				continue // each pair once
			}
			pair := []*Node{t, n}
			slices.SortFunc(pair, func(a, b *Node) int { return int(a.ID()) - int(b.ID()) })
			var sid [32]byte
			rand.Read(sid[:])
			if _, err := runRelayKeyed(ctx, pair, wire.ProtoPairSetup, c.keyID, sid, 6, ids(pair)); err != nil {
				return fmt.Errorf("pairwise setup %v: %w", ids(pair), err)
			}
		}
	}
	// Exercise every new pairwise setup: each live signer subset that
	// contains a replacement signs its confirmation digest.
	var exercise [][]int
	for _, s := range subsets(all, c.cfg.Threshold) {
		for _, t := range targets {
			if slices.Contains(s, t) {
				exercise = append(exercise, intIDs(s))
				break
			}
		}
	}
	if _, err := c.confirmSubsets(ctx, all, exercise); err != nil {
		return fmt.Errorf("exercising the replacement's pairwise setups: %w", err)
	}
	if err := InstallCertificates(ctx, targets, install); err != nil {
		return err
	}
	c.nodesMu.Lock()
	for i, n := range c.cfg.Nodes {
		for _, t := range targets {
			if n.ID() == t.ID() {
				old := c.cfg.Nodes[i]
				c.cfg.Nodes[i] = t
				old.Client.Close()
			}
		}
	}
	c.nodesMu.Unlock()
	for _, t := range targets {
		if c.pool != nil {
			c.pool.dropNode(t.ID())
		}
		c.log.Info("node replaced", "node", t.ID())
	}
	return nil
}

func intIDs(set []*Node) []int {
	out := make([]int, len(set))
	for i, n := range set {
		out[i] = int(n.ID())
	}
	return out
}
