//go:build ccfault

package coordinator_test

import (
	"context"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/oracle"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/coordinator"
	"github.com/cc-tsa/cc-tsa/wrapper/internal/testtsa"
)

// TestMisbehavingOracles injects faults (build tag ccfault): an oracle that
// sends corrupted round messages and one that stalls are both named and set
// aside while tokens keep flowing from the others.
func TestMisbehavingOracles(t *testing.T) {
	c := testtsa.StartCluster(t, 5, 3, func(cfg *coordinator.Config) { cfg.SessionTimeout = 3 * time.Second })
	issue(t, c, "")

	c.Oracles[1].InjectFaults(oracle.Faults{CorruptRounds: true})
	for i := 0; i < 10; i++ {
		issue(t, c, "")
	}
	h := c.Coordinator.Nodes()[1].Health()
	if h.Failures == 0 && !h.Benched {
		t.Fatalf("node 2 corrupted its messages and was never blamed: %+v", h)
	}
	for i, n := range c.Coordinator.Nodes() {
		if i != 1 && n.Health().Failures > 0 {
			t.Fatalf("honest node %d blamed: %+v", i+1, n.Health())
		}
	}
	c.Oracles[1].InjectFaults(oracle.Faults{})
	waitReady(t, c, 5)

	c.Oracles[2].InjectFaults(oracle.Faults{Stall: 5 * time.Second})
	for i := 0; i < 6; i++ {
		issue(t, c, "")
	}
	if h := c.Coordinator.Nodes()[2].Health(); h.Failures == 0 && !h.Benched {
		t.Fatalf("node 3 stalled and was never blamed: %+v", h)
	}
	c.Oracles[2].InjectFaults(oracle.Faults{})
}

// TestCommitsRedelivered: the last steps of a membership change and of a
// share refresh reach some members only on a later try (a lost request, a
// lost answer): the coordinator delivers them again, so no member is left
// in the previous epoch or on the previous sharing.
func TestCommitsRedelivered(t *testing.T) {
	c := testtsa.StartCluster(t, 5, 3)
	issue(t, c, "")
	c.Cancel[4]()
	c.Coordinator.Poll(context.Background())
	c.Oracles[0].InjectFaults(oracle.Faults{FailRelays: 1, FailProtocol: wire.ProtoMembership, FailStep: 3})
	c.Oracles[1].InjectFaults(oracle.Faults{FailRelays: 1, FailProtocol: wire.ProtoMembership, FailStep: 3, FailAfter: true})
	c.Oracles[2].InjectFaults(oracle.Faults{FailRelays: 2, FailProtocol: wire.ProtoRefresh, FailStep: 3, FailAfter: true})
	c.Oracles[3].InjectFaults(oracle.Faults{FailRelays: 1, FailProtocol: wire.ProtoRefresh, FailStep: 3})
	if err := c.Replace(t, 5); err != nil {
		t.Fatal(err)
	}
	s := sharings(t, c.Coordinator.Nodes())
	var epochs []uint64
	for _, n := range c.Coordinator.Nodes() {
		st, err := n.Client.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		epochs = append(epochs, st.Epoch)
	}
	for i := range s {
		if s[i] != s[0] || epochs[i] != 1 {
			t.Fatalf("node %d: epoch %d, sharing %x; node 1: epoch %d, sharing %x", i+1, epochs[i], s[i][:4], epochs[0], s[0][:4])
		}
	}
	waitReady(t, c, 5)
	for i := 0; i < 3; i++ {
		issue(t, c, "")
	}
}
