package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestSustainedLoad keeps the 3-of-5 cluster busy for longer than the
// oracles' clock re-verification period (60 s by default in the clock
// library) and requires that not one request fails. A cluster whose clocks
// all stop trusting themselves at the same moment refuses requests with
// timeNotAvailable until the next cross-node round; this catches that.
// The loop is bounded in both rounds and time; nothing here asserts a
// duration.
func TestSustainedLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("sustained load runs for about 70 s; skipped with -short")
	}
	start := time.Now()
	total := 0
	// Time, not the round count, ends the loop on any machine that issues
	// fewer than about 100 tokens/s, so the run covers a re-verification
	// point whenever it started.
	for round := 0; round < 200 && time.Since(start) < 70*time.Second; round++ {
		out := mustRun(t, t.TempDir(), ccTSA, "bench", "--url", cluster.url, "-n", "40", "-c", "4", "--quiet")
		if !strings.Contains(out, "failed: 0,") {
			t.Fatalf("round %d after %d tokens: requests failed:\n%s\n%s", round, total, out, cluster.log())
		}
		total += 40
	}
	t.Logf("%d tokens over %v, none failed", total, time.Since(start).Round(time.Second))
}
