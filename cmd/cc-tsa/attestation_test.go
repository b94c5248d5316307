package main

import (
	"errors"
	"io"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/attest"
	"github.com/cc-tsa/cc-tsa/cvm/membership"
	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// testClaim returns a membership claim for fresh identity keys.
func testClaim(t testing.TB, index uint8) []byte {
	t.Helper()
	id, err := peer.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return (&membership.Claim{Index: index, Nodes: 5, Threshold: 3, Keys: id.Public().Marshal()}).Marshal()
}

// parsePolicy parses the policy flags of a command line.
func parsePolicy(t testing.TB, args ...string) *policyFlags {
	t.Helper()
	fs := newFlagSet("test", io.Discard)
	pf := addPolicyFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		t.Fatalf("parsing %q: %v", args, err)
	}
	return pf
}

// TestAttestationTCBFloor checks the TCB floor of the attestation policy
// that node, serve, ceremony and attest share: by default simulated
// oracles meet it (development works), evidence with an all-zero TCB is
// refused, and a floor above what the simulated device reports refuses its
// evidence with the component and both values.
func TestAttestationTCBFloor(t *testing.T) {
	dev, err := newAttestation("simulated", "", 0, true, parsePolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	claim := testClaim(t, 1)
	var nonce [wire.NonceSize]byte
	nonce[0] = 7
	ev, err := dev.Evidence(claim, nonce)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.verify(ev, claim, nonce); err != nil {
		t.Fatalf("default policy refuses the default simulated device: %v", err)
	}

	// A device reporting TCB 0/0/0/0 (as the simulator did before the floor).
	m, err := simulatedMeasurement()
	if err != nil {
		t.Fatal(err)
	}
	zero, err := attest.NewSimulated(attest.SimulatedConfig{Measurement: m})
	if err != nil {
		t.Fatal(err)
	}
	zev, err := zero.Attest(attest.ReportData(claim, nil, nonce[:]))
	if err != nil {
		t.Fatal(err)
	}
	zraw, err := zev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.verify(zraw, claim, nonce); !errors.Is(err, attest.ErrTCB) {
		t.Fatalf("TCB 0/0/0/0 evidence: %v, want ErrTCB", err)
	}

	// A verifier whose Milan floor is above the device's SNP SPL.
	d := attest.DefaultMinimumTCB()["Milan"]
	above := d
	above.SNP++
	strict, err := newAttestation("simulated", "", 0, false, parsePolicy(t, "--min-tcb-milan", above.Flag()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = strict.verify(ev, claim, nonce)
	var te *attest.TCBError
	if !errors.As(err, &te) || te.Component != "snp" || te.Got != d.SNP || te.Min != above.SNP {
		t.Fatalf("floor above the simulated TCB: %v, want a TCBError for snp %d < %d", err, d.SNP, above.SNP)
	}

	// The guest SVN floor.
	svn, err := newAttestation("simulated", "", 0, false, parsePolicy(t, "--min-guest-svn", "1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svn.verify(ev, claim, nonce); !errors.Is(err, attest.ErrPolicy) {
		t.Fatalf("guest SVN below the floor: %v, want ErrPolicy", err)
	}
}

// TestPolicyFlagsStrict checks that malformed floors are usage errors.
func TestPolicyFlagsStrict(t *testing.T) {
	for _, args := range [][]string{
		{"--min-tcb-milan", "bl=4,tee=0,snp=24"},
		{"--min-tcb-genoa", "bl=4,tee=0,snp=200,ucode=1"},
		{"--min-guest-svn", "-1"},
	} {
		fs := newFlagSet("test", io.Discard)
		addPolicyFlags(fs)
		var ue usageError
		if err := parseFlags(fs, args); !errors.As(err, &ue) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}
