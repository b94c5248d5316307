package coordinator

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// RefreshShares runs the ECDSA share refresh among all members: each
// receives a new share of the same key and erases its old one, so that
// whatever a former holder of an index kept (a replaced node, a stolen
// disk image of its memory) is useless with the new shares. Every member
// must be live. Presignatures of the previous sharing are gone afterwards;
// the pool refills. The ML-DSA shares are not refreshed (see
// docs/threat-model.md).
//
// The last step is delivered again, a few times, to a node that did not
// take it: a node left on the previous sharing cannot sign ECDSA with the
// others (nothing wrong is signed; verify-before-release refuses), and the
// error names it.
func (c *Coordinator) RefreshShares(ctx context.Context) error {
	if !c.threshold() {
		return errors.New("coordinator: a single oracle has no shares to refresh")
	}
	nodes := c.Nodes()
	slices.SortFunc(nodes, func(a, b *Node) int { return int(a.ID()) - int(b.ID()) })
	for _, n := range nodes {
		st, err := n.Client.Status(ctx)
		if err != nil {
			return fmt.Errorf("coordinator: the refresh needs every member live: %w", &NodeError{Node: n.ID(), Err: err})
		}
		if st.State != wire.StateReady {
			return fmt.Errorf("coordinator: the refresh needs every member ready: node %d is %v", n.ID(), st.State)
		}
		n.SetStatus(st)
	}
	return c.refreshShares(ctx, nodes)
}

// refreshShares runs the share refresh among nodes, every member in
// ascending order.
func (c *Coordinator) refreshShares(ctx context.Context, nodes []*Node) error {
	var sid [32]byte
	rand.Read(sid[:])
	params := ids(nodes)
	var inbound map[uint8][][]byte
	var prev [][][]byte
	for step := 1; step <= 2; step++ {
		resps, err := parallel(nodes, func(n *Node) (*wire.RelayResponse, error) {
			return n.Client.Relay(ctx, &wire.RelayRequest{Protocol: wire.ProtoRefresh, Session: sid, Step: uint8(step), Params: params, Inbound: inbound[n.ID()]})
		})
		if err != nil {
			if step > 1 && unauthenticated(err) {
				err = blameRelayStep(nodes, wire.ProtoRefresh, step-1, prev, err)
			}
			return fmt.Errorf("share refresh step %d: %w", step, err)
		}
		outs := make([][][]byte, len(resps))
		for i, r := range resps {
			outs[i] = r.Outbound
		}
		if inbound, err = route(nodes, outs, false); err != nil {
			return fmt.Errorf("share refresh step %d: %w", step, err)
		}
		prev = outs
	}
	// Step 3 commits. A node that has not committed keeps its state for
	// an hour (oracle.RefreshRunMaxAge), so the step can be repeated; one
	// whose Status shows the new sharing took it and its answer was lost.
	before, err := sharingOf(ctx, nodes[0])
	if err != nil {
		return err
	}
	digests := make([][]byte, len(nodes))
	var mu sync.Mutex
	pending, err := deliverEach(ctx, nodes, func(n *Node) error {
		resp, err := n.Client.Relay(ctx, &wire.RelayRequest{Protocol: wire.ProtoRefresh, Session: sid, Step: 3, Params: params, Inbound: inbound[n.ID()]})
		if err == nil {
			mu.Lock()
			digests[n.ID()-1] = resp.Result
			mu.Unlock()
		}
		return err
	}, func(n *Node) bool {
		s, err := sharingOf(ctx, n)
		return err == nil && s != before
	})
	if c.pool != nil {
		for _, n := range nodes {
			c.pool.dropNode(n.ID())
		}
		c.pool.kick()
	}
	if len(pending) > 0 {
		return fmt.Errorf("share refresh: nodes %v did not commit and hold shares of the previous sharing (they cannot sign ECDSA with the others; replace them): %w", ids(pending), err)
	}
	// Every member must now report one new sharing (and, where its answer
	// arrived, the same refresh digest).
	var after [32]byte
	for i, n := range nodes {
		s, err := sharingOf(ctx, n)
		if err != nil {
			return err
		}
		if i == 0 {
			after = s
		}
		if s == before || s != after {
			return &NodeError{Node: n.ID(), Err: fmt.Errorf("after the share refresh it reports sharing %x (before %x, node %d %x)", s[:8], before[:8], nodes[0].ID(), after[:8])}
		}
		if d := digests[i]; d != nil && !bytes.Equal(d, digests[0]) && digests[0] != nil {
			return &NodeError{Node: n.ID(), Err: fmt.Errorf("share refresh digest %x differs from node %d's %x", d, nodes[0].ID(), digests[0])}
		}
	}
	c.log.Info("ECDSA shares refreshed on every member", "sharing", fmt.Sprintf("%x", after[:8]))
	return nil
}

// sharingOf asks n for the digest of its ECDSA sharing.
func sharingOf(ctx context.Context, n *Node) ([32]byte, error) {
	st, err := n.Client.Status(ctx)
	if err != nil {
		return [32]byte{}, &NodeError{Node: n.ID(), Err: err}
	}
	return st.ECDSASharing, nil
}
