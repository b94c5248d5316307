package coordinator_test

import (
	"context"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/coordinator"
	"github.com/cc-tsa/cc-tsa/wrapper/internal/testtsa"
)

// TestCeremonyRecordOfCluster checks the record of a real (attested)
// ceremony: it parses, its parts hash to the transcript hash the
// certificates carry, and the genesis membership it yields has the cluster
// id and the member identities that the oracles claim in fresh Hellos.
func TestCeremonyRecordOfCluster(t *testing.T) {
	c := testtsa.StartClusterWith(t, testtsa.ClusterConfig{Nodes: 5, Threshold: 3, Attested: true})
	rec, err := c.Ceremony.Record("SIMULATED")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	rec, err = coordinator.ParseCeremonyRecord(raw)
	if err != nil {
		t.Fatal(err)
	}
	g, err := rec.Genesis()
	if err != nil {
		t.Fatal(err)
	}
	hellos, err := c.Coordinator.Hellos(context.Background(), [wire.NonceSize]byte{1})
	if err != nil || len(hellos) != 5 {
		t.Fatalf("hellos: %d, %v", len(hellos), err)
	}
	for _, h := range hellos {
		keys, ok := g.Keys(h.NodeID)
		if h.Cluster != g.Cluster || h.Epoch != 0 || !ok || string(keys.Marshal()) != string(h.Identity) {
			t.Fatalf("node %d claims cluster %x epoch %d; the record's genesis is cluster %x", h.NodeID, h.Cluster[:8], h.Epoch, g.Cluster[:8])
		}
	}
}
