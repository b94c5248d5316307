package coordinator

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"

	"github.com/cc-tsa/cc-tsa/cvm/membership"
	"github.com/cc-tsa/cc-tsa/cvm/peer"
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
// when every member is live all of them refresh their ECDSA shares (see
// RefreshShares), each replacement sets up its pairwise ECDSA material with
// every other node, all signer subsets confirm the key again, and the
// certificates are installed on the replacements. Fewer than Threshold live
// nodes means a new ceremony.
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
	for _, t := range targets {
		if err := c.admit(ctx, live, t, check); err != nil {
			return fmt.Errorf("admitting the replacement for node %d: %w", t.ID(), err)
		}
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
	// With every member live, refresh the ECDSA shares: what the replaced
	// holders kept is then useless with the new shares.
	if len(all) == len(c.Nodes()) {
		if err := c.refreshShares(ctx, all); err != nil {
			return fmt.Errorf("refreshing the ECDSA shares after the replacement: %w", err)
		}
	} else {
		c.log.Warn("ECDSA shares not refreshed after the replacement: not every member is live; run the refresh once they are", "live", len(all), "members", len(c.Nodes()))
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
			if _, err := runRelay(ctx, pair, wire.ProtoPairSetup, sid, 6, ids(pair)); err != nil {
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

// admit runs the membership protocol that gives node index t.ID() to the
// replacement t: one attestation round among the live members and t (each
// contributes a challenge), every live member's endorsement (each checks
// the replacement itself), then the commit on the live members and on t,
// which checks the members' evidence for its own challenge.
func (c *Coordinator) admit(ctx context.Context, live []*Node, t *Node, check AttestationCheck) error {
	st, err := live[0].Client.Status(ctx)
	if err != nil {
		return err
	}
	round := append(slices.Clone(live), t)
	slices.SortFunc(round, func(a, b *Node) int { return int(a.ID()) - int(b.ID()) })
	challenges, err := Challenges(ctx, round)
	if err != nil {
		return err
	}
	nonce := membership.Nonce(challenges)
	hellos, err := parallel(round, func(n *Node) (*wire.Hello, error) {
		req := &wire.HelloRequest{Nonce: nonce}
		if n == t {
			req.Cluster, req.Epoch = st.Cluster, st.Epoch+1
		}
		h, err := n.Client.Hello(ctx, req)
		if err != nil {
			return nil, err
		}
		if _, err := check(h, nonce); err != nil {
			return nil, fmt.Errorf("attestation refused: %w", err)
		}
		return h, nil
	})
	if err != nil {
		return err
	}
	mc := &wire.MemberChange{Index: t.ID(), Challenges: challenges}
	byID := map[uint8]*wire.Hello{}
	for i, n := range round {
		byID[n.ID()] = hellos[i]
		if n == t {
			mc.Joiner = *hellos[i]
		}
	}
	params, err := mc.Marshal()
	if err != nil {
		return err
	}
	results, errs := parallelAll(live, func(n *Node) ([]byte, error) {
		resp, err := n.Client.Relay(ctx, &wire.RelayRequest{Protocol: wire.ProtoMembership, Step: 2, Params: params})
		if err != nil {
			return nil, err
		}
		return resp.Result, nil
	})
	var refusals []error
	for i, r := range results {
		if errs[i] != nil {
			refusals = append(refusals, &NodeError{Node: live[i].ID(), Err: errs[i]})
			continue
		}
		var e wire.Endorsement
		if err := e.Unmarshal(r); err != nil {
			refusals = append(refusals, &NodeError{Node: live[i].ID(), Err: err})
			continue
		}
		mc.Endorsements = append(mc.Endorsements, e)
	}
	if len(mc.Endorsements) < c.cfg.Threshold {
		return fmt.Errorf("%d of %d endorsements: %w", len(mc.Endorsements), c.cfg.Threshold, errors.Join(refusals...))
	}
	if params, err = mc.Marshal(); err != nil {
		return err
	}
	// The commit goes to every live member, again to one that did not take
	// it (a member whose Status shows the new epoch did, and its answer was
	// lost): a member left in the old epoch cannot presign with the others
	// (the relay contexts bind the membership) until it takes the commit.
	inEpoch := func(n *Node) bool {
		s, err := n.Client.Status(ctx)
		return err == nil && s.Epoch == st.Epoch+1
	}
	if lagging, err := deliverEach(ctx, live, func(n *Node) error {
		_, err := n.Client.Relay(ctx, &wire.RelayRequest{Protocol: wire.ProtoMembership, Step: 3, Params: params})
		return err
	}, inEpoch); len(lagging) > 0 {
		return fmt.Errorf("commit: nodes %v stay in epoch %d: %w", ids(lagging), st.Epoch, err)
	}
	// The joiner learns the current members: fresh Hellos from the live
	// ones, and for indices that are down the identity they had (bound by
	// the endorsements, which sign the whole next membership).
	for id := uint8(1); id <= uint8(len(c.Nodes())); id++ {
		if id == t.ID() {
			continue
		}
		if h, ok := byID[id]; ok {
			mc.Members = append(mc.Members, *h)
			continue
		}
		n := c.node(id)
		if n == nil || n.Identity() == nil {
			return fmt.Errorf("node %d is down and its identity is unknown", id)
		}
		mc.Members = append(mc.Members, wire.Hello{NodeID: id, Nodes: st.Nodes, Threshold: st.Threshold, Attestation: st.Attestation,
			Cluster: st.Cluster, Epoch: st.Epoch, Identity: n.Identity().Marshal()})
	}
	if params, err = mc.Marshal(); err != nil {
		return err
	}
	if lagging, err := deliverEach(ctx, []*Node{t}, func(n *Node) error {
		_, err := n.Client.Relay(ctx, &wire.RelayRequest{Protocol: wire.ProtoMembership, Step: 3, Params: params})
		return err
	}, inEpoch); len(lagging) > 0 {
		return fmt.Errorf("joining: %w", err)
	}
	pk, err := peer.ParsePublicKeys(mc.Joiner.Identity)
	if err != nil {
		return err
	}
	t.SetIdentity(pk)
	c.log.Info("membership changed", "node", t.ID(), "epoch", st.Epoch+1)
	return nil
}

// node returns the configured node with id, or nil.
func (c *Coordinator) node(id uint8) *Node {
	for _, n := range c.Nodes() {
		if n.ID() == id {
			return n
		}
	}
	return nil
}
