package coordinator

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// TimeCheckInterval is how often the coordinator runs a cross-node time
// check round; the oracles need a fresh positive verdict (at most 10 s old)
// to keep trusting their clocks.
const TimeCheckInterval = 3 * time.Second

// TimeCheck runs one round of the cross-node time check among the
// reachable nodes and returns each node's verdict (true: its peers agree
// with its clock).
func (c *Coordinator) TimeCheck(ctx context.Context) (map[uint8]bool, error) {
	return timeCheck(ctx, c.reachable())
}

func timeCheck(ctx context.Context, nodes []*Node) (map[uint8]bool, error) {
	if len(nodes) < 2 {
		return nil, fmt.Errorf("time check: %d reachable nodes", len(nodes))
	}
	var sid [32]byte
	rand.Read(sid[:])
	results, err := relay(ctx, nodes, wire.ProtoTimeCheck, sid, 3, nil, true)
	if err != nil {
		return nil, err
	}
	out := make(map[uint8]bool, len(nodes))
	for i, r := range results {
		out[nodes[i].ID()] = len(r) > 0 && r[0] == 1
	}
	return out, nil
}

// reachable returns the nodes whose last status poll succeeded, whatever
// their state (an untrusted clock needs its peers' verdict to recover).
func (c *Coordinator) reachable() []*Node {
	var out []*Node
	for _, n := range c.Nodes() {
		if st, err, _ := n.Status(); err == nil && st != nil && st.State != wire.StateStopping {
			out = append(out, n)
		}
	}
	return out
}

// runTimeChecks runs time-check rounds every TimeCheckInterval until ctx
// is done.
func (c *Coordinator) runTimeChecks(ctx context.Context) {
	t := time.NewTicker(TimeCheckInterval)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, TimeCheckInterval)
		if _, err := c.TimeCheck(rctx); err != nil && ctx.Err() == nil {
			c.log.Debug("time check round failed", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
