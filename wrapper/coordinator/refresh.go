package coordinator

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// refreshCommitAttempts is how many times the coordinator delivers the
// last step of a share refresh to a node that did not take it.
const refreshCommitAttempts = 4

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
	// an hour (oracle.RefreshRunMaxAge), so the step can be repeated.
	digests := make([][]byte, len(nodes))
	pending := append([]*Node(nil), nodes...)
	var failed []error
	for attempt := 0; attempt < refreshCommitAttempts && len(pending) > 0; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		resps, errs := parallelAll(pending, func(n *Node) (*wire.RelayResponse, error) {
			return n.Client.Relay(ctx, &wire.RelayRequest{Protocol: wire.ProtoRefresh, Session: sid, Step: 3, Params: params, Inbound: inbound[n.ID()]})
		})
		var next []*Node
		failed = failed[:0]
		for i, n := range pending {
			if errs[i] != nil {
				next = append(next, n)
				failed = append(failed, &NodeError{Node: n.ID(), Err: errs[i]})
				continue
			}
			digests[n.ID()-1] = resps[i].Result
		}
		pending = next
	}
	if c.pool != nil {
		for _, n := range nodes {
			c.pool.dropNode(n.ID())
		}
		c.pool.kick()
	}
	if len(pending) > 0 {
		return fmt.Errorf("share refresh: nodes %v did not commit and hold shares of the previous sharing (they cannot sign ECDSA with the others; replace them): %w", ids(pending), errors.Join(failed...))
	}
	for i, d := range digests {
		if len(d) != 32 || !bytes.Equal(d, digests[0]) {
			return &NodeError{Node: nodes[i].ID(), Err: fmt.Errorf("share refresh digest %x differs from node %d's %x", d, nodes[0].ID(), digests[0])}
		}
	}
	c.log.Info("ECDSA shares refreshed on every member", "digest", fmt.Sprintf("%x", digests[0][:8]))
	return nil
}
