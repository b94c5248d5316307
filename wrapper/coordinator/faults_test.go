//go:build ccfault

package coordinator_test

import (
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/oracle"
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
