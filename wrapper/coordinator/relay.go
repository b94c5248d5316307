package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// parallel runs fn for every node of set concurrently and returns the
// first error, naming the node.
func parallel[T any](set []*Node, fn func(n *Node) (T, error)) ([]T, error) {
	out, errs := parallelAll(set, fn)
	for i, err := range errs {
		if err != nil {
			return out, &NodeError{Node: set[i].ID(), Err: err}
		}
	}
	return out, nil
}

// parallelAll runs fn for every node of set concurrently and returns every
// result and error.
func parallelAll[T any](set []*Node, fn func(n *Node) (T, error)) ([]T, []error) {
	out := make([]T, len(set))
	errs := make([]error, len(set))
	var wg sync.WaitGroup
	for i, n := range set {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = fn(n)
		}()
	}
	wg.Wait()
	return out, errs
}

// NodeError is a failure of one oracle.
type NodeError struct {
	Node uint8
	Err  error
}

func (e *NodeError) Error() string { return fmt.Sprintf("oracle %d: %v", e.Node, e.Err) }
func (e *NodeError) Unwrap() error { return e.Err }

// route delivers the envelopes each node produced in one step: a broadcast
// goes to every other node of set, a direct message to its receiver. It
// checks that every envelope names its producer as sender.
func route(set []*Node, outputs [][][]byte, dropOutside bool) (map[uint8][][]byte, error) {
	in := make(map[uint8][][]byte, len(set))
	member := map[uint8]bool{}
	for _, n := range set {
		member[n.ID()] = true
	}
	for i, envs := range outputs {
		from := set[i].ID()
		broadcast := false
		for _, raw := range envs {
			var e peer.Envelope
			if err := e.Unmarshal(raw); err != nil {
				return nil, &NodeError{Node: from, Err: fmt.Errorf("malformed envelope: %w", err)}
			}
			if e.Sender != from {
				return nil, &NodeError{Node: from, Err: fmt.Errorf("envelope claims sender %d", e.Sender)}
			}
			if e.Receiver == peer.Broadcast && broadcast {
				// Receivers refuse a second broadcast of one sender.
				return nil, &NodeError{Node: from, Err: errors.New("two broadcasts in one step")}
			}
			broadcast = broadcast || e.Receiver == peer.Broadcast
			if e.Receiver == peer.Broadcast {
				for _, n := range set {
					if n.ID() != from {
						in[n.ID()] = append(in[n.ID()], raw)
					}
				}
				continue
			}
			if !member[e.Receiver] {
				if dropOutside {
					continue
				}
				return nil, &NodeError{Node: from, Err: fmt.Errorf("envelope for node %d outside the set", e.Receiver)}
			}
			in[e.Receiver] = append(in[e.Receiver], raw)
		}
	}
	return in, nil
}

// runRelay runs a relayed protocol of steps steps among set, routing
// envelopes between them, and returns each node's result of the last step.
func runRelay(ctx context.Context, set []*Node, proto wire.Protocol, sid [32]byte, steps int, params []byte) ([][]byte, error) {
	return relay(ctx, set, proto, sid, steps, params, false)
}

// relay is runRelay; with dropOutside, messages for nodes outside set (for
// example unreachable peers in a time check) are dropped instead of failing
// the protocol. When an oracle refuses a message as unauthenticated, the
// coordinator checks the previous step's envelopes (see blameRelayStep).
func relay(ctx context.Context, set []*Node, proto wire.Protocol, sid [32]byte, steps int, params []byte, dropOutside bool) ([][]byte, error) {
	var inbound map[uint8][][]byte
	var results [][]byte
	var prev [][][]byte // what each node sent in the previous step
	for step := 1; step <= steps; step++ {
		resps, err := parallel(set, func(n *Node) (*wire.RelayResponse, error) {
			return n.Client.Relay(ctx, &wire.RelayRequest{Protocol: proto, Session: sid, Step: uint8(step), Params: params, Inbound: inbound[n.ID()]})
		})
		if err != nil {
			if step > 1 && unauthenticated(err) {
				err = blameRelayStep(set, proto, step-1, prev, err)
			}
			return nil, fmt.Errorf("%v step %d: %w", proto, step, err)
		}
		outs := make([][][]byte, len(resps))
		results = make([][]byte, len(resps))
		for i, r := range resps {
			outs[i], results[i] = r.Outbound, r.Result
		}
		if inbound, err = route(set, outs, dropOutside); err != nil {
			return nil, fmt.Errorf("%v step %d: %w", proto, step, err)
		}
		prev = outs
	}
	return results, nil
}

// openFrom decodes an envelope produced by node n, checks it against want
// with n's attested identity key, and returns the payload.
func openFrom(n *Node, raw []byte, want peer.Header) ([]byte, error) {
	var e peer.Envelope
	if err := e.Unmarshal(raw); err != nil {
		return nil, &NodeError{Node: n.ID(), Err: err}
	}
	id := n.Identity()
	if id == nil {
		return nil, &NodeError{Node: n.ID(), Err: fmt.Errorf("no attested identity")}
	}
	p, err := peer.Open(&e, *id, want, nil)
	if err != nil {
		return nil, &NodeError{Node: n.ID(), Err: err}
	}
	return p, nil
}

// deliverAttempts is how many times the coordinator delivers a commit (a
// membership change's, a share refresh's) to a node that did not take it.
const deliverAttempts = 4

// deliverEach runs fn on every node of set and repeats it, after a growing
// pause and up to deliverAttempts times, on the nodes where it failed
// (a lost request or answer); took, if not nil, tells whether a node whose
// call failed took the step anyway (its answer was lost). It returns the
// nodes that never took it, with their last errors.
func deliverEach(ctx context.Context, set []*Node, fn func(n *Node) error, took func(n *Node) bool) ([]*Node, error) {
	pending := append([]*Node(nil), set...)
	var errs []error
	for attempt := 0; attempt < deliverAttempts && len(pending) > 0; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return pending, ctx.Err()
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		_, es := parallelAll(pending, func(n *Node) (struct{}, error) { return struct{}{}, fn(n) })
		var next []*Node
		errs = errs[:0]
		for i, n := range pending {
			if es[i] == nil || (took != nil && took(n)) {
				continue
			}
			next = append(next, n)
			errs = append(errs, &NodeError{Node: n.ID(), Err: es[i]})
		}
		pending = next
	}
	return pending, errors.Join(errs...)
}
