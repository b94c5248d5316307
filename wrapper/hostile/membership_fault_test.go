//go:build ccfault

package hostile

import (
	"testing"

	"github.com/cc-tsa/cc-tsa/wrapper/internal/testtsa"
)

// TestReplacementAdmitted: the honest path. A stopped node is replaced by
// a fresh attested oracle through the membership protocol; every node moves
// to the next epoch, the joiner's ML-DSA session count starts at the
// highest its endorsers report, the cluster signs with the new node, and
// the replaced identity can never come back.
func TestReplacementAdmitted(t *testing.T) {
	c := testtsa.StartClusterWith(t, testtsa.ClusterConfig{Nodes: 5, Threshold: 3, Attested: true})
	for range 3 {
		issueToken(t, c)
	}
	before := status(t, clients(c)[0])
	var most uint64
	for i, o := range c.Oracles {
		if i != 1 {
			most = max(most, o.MLDSASessionsUsed())
		}
	}
	if most == 0 {
		t.Fatal("no ML-DSA sessions counted after three tokens")
	}
	c.Cancel[1]()
	if err := c.Replace(t, 2); err != nil {
		t.Fatal(err)
	}
	if got := c.Oracles[1].MLDSASessionsUsed(); got < most {
		t.Fatalf("the replacement's share counts %d sessions, its endorsers up to %d: the budget was reset", got, most)
	}
	for i, x := range clients(c) {
		s := status(t, x)
		if s.Epoch != before.Epoch+1 || s.Cluster != before.Cluster {
			t.Fatalf("node %d: epoch %d cluster %x, want %d %x", i+1, s.Epoch, s.Cluster[:4], before.Epoch+1, before.Cluster[:4])
		}
	}
	for range 3 {
		issueToken(t, c)
	}
}
