//go:build ccfault

package hostile

import (
	"context"
	"errors"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/internal/testtsa"
	"github.com/cc-tsa/cc-tsa/wrapper/oracleclient"
)

// cluster starts a 3-of-5 cluster after a complete key ceremony.
func cluster(t *testing.T) *testtsa.Cluster {
	t.Helper()
	return testtsa.StartCluster(t, 5, 3)
}

// clients returns the oracles' wire clients by node id (index 0 is node 1):
// the hostile coordinator talks to the oracles through these alone.
func clients(c *testtsa.Cluster) []*oracleclient.Client {
	var out []*oracleclient.Client
	for _, n := range c.Coordinator.Nodes() {
		out = append(out, n.Client)
	}
	return out
}

// refused fails the test unless err is an oracle refusal with one of the
// given codes.
func refused(t *testing.T, err error, codes ...wire.ErrorCode) *wire.Error {
	t.Helper()
	var we *wire.Error
	if !errors.As(err, &we) {
		t.Fatalf("want a typed oracle refusal, got %v", err)
	}
	for _, c := range codes {
		if we.Code == c {
			return we
		}
	}
	t.Fatalf("refusal %v, want one of %v", we, codes)
	return nil
}

func TestClusterStarts(t *testing.T) {
	c := cluster(t)
	for i, cl := range clients(c) {
		st, err := cl.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.State != wire.StateReady || int(st.NodeID) != i+1 {
			t.Fatalf("node %d: %+v", i+1, st)
		}
	}
}
