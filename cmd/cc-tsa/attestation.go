package main

import (
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cc-tsa/cc-tsa/cvm/attest"
	"github.com/cc-tsa/cc-tsa/cvm/membership"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// attestation bundles an attester (for this node) and a verifier (for its
// peers and for the coordinator) under one policy.
type attestation struct {
	kind     wire.Attestation
	attester attest.Attester // nil on the coordinator
	verifier *attest.Verifier
	policy   attest.Policy // the verifier's policy
}

// simulatedMeasurement is the launch measurement simulated oracles claim:
// SHA-384 of the running executable, so that every oracle started from the
// same binary attests to the same measurement, and a different binary to a
// different one.
func simulatedMeasurement() ([attest.MeasurementSize]byte, error) {
	var m [attest.MeasurementSize]byte
	self, err := os.Executable()
	if err != nil {
		return m, err
	}
	f, err := os.Open(self)
	if err != nil {
		return m, err
	}
	defer f.Close()
	h := sha512.New384()
	if _, err := io.Copy(h, f); err != nil {
		return m, err
	}
	copy(m[:], h.Sum(nil))
	return m, nil
}

// tcbFlag is a flag.Value holding a TCB floor (attest.ParseTCB syntax).
type tcbFlag struct{ t attest.TCB }

// String returns the floor in flag syntax.
func (f *tcbFlag) String() string { return f.t.Flag() }

// Set parses a floor.
func (f *tcbFlag) Set(s string) error {
	t, err := attest.ParseTCB(s)
	if err != nil {
		return err
	}
	f.t = t
	return nil
}

// policyFlags are the attestation policy settings beyond kind, measurement
// and VMPL that node, serve, ceremony and attest share: the TCB floor per
// product line and the minimum guest SVN. Every oracle and every verifier
// of one cluster must be given the same values.
type policyFlags struct {
	milan, genoa tcbFlag
	guestSVN     uint
}

// addPolicyFlags registers --min-tcb-milan, --min-tcb-genoa and
// --min-guest-svn on fs, with the defaults of attest.DefaultMinimumTCB.
func addPolicyFlags(fs *flag.FlagSet) *policyFlags {
	d := attest.DefaultMinimumTCB()
	pf := &policyFlags{milan: tcbFlag{d["Milan"]}, genoa: tcbFlag{d["Genoa"]}}
	fs.Var(&pf.milan, "min-tcb-milan", "lowest REPORTED_TCB and LAUNCH_TCB accepted from Milan: bl=N,tee=N,snp=N,ucode=N (the same on every oracle and verifier of a cluster; simulated devices report exactly this)")
	fs.Var(&pf.genoa, "min-tcb-genoa", "lowest REPORTED_TCB and LAUNCH_TCB accepted from Genoa: bl=N,tee=N,snp=N,ucode=N (the same on every oracle and verifier of a cluster)")
	fs.UintVar(&pf.guestSVN, "min-guest-svn", 0, "lowest guest SVN accepted (the same on every oracle and verifier of a cluster)")
	return pf
}

// floors returns the per-product floors of pf.
func (pf *policyFlags) floors() map[string]attest.TCB {
	return map[string]attest.TCB{"Milan": pf.milan.t, "Genoa": pf.genoa.t}
}

// newAttestation builds the attestation of kind "simulated" or "sev-snp".
// measurementHex pins the expected launch measurement (required for
// sev-snp; for simulated it defaults to this binary's measurement). pf
// sets the TCB floors and minimum guest SVN (nil: the defaults). With
// device set it also opens the attester for this node; a simulated device
// reports exactly the Milan floor as its TCB (the simulated platform is a
// Milan), so that oracles with the same flags accept each other.
func newAttestation(kind, measurementHex string, vmpl uint, device bool, pf *policyFlags) (*attestation, error) {
	if pf == nil {
		d := attest.DefaultMinimumTCB()
		pf = &policyFlags{milan: tcbFlag{d["Milan"]}, genoa: tcbFlag{d["Genoa"]}}
	}
	if pf.guestSVN > 1<<32-1 {
		return nil, usagef("--min-guest-svn %d out of range", pf.guestSVN)
	}
	var pinned [attest.MeasurementSize]byte
	switch {
	case measurementHex != "":
		m, err := attest.ParseMeasurement(measurementHex)
		if err != nil {
			return nil, usagef("--measurement: %v", err)
		}
		pinned = m
	case kind == "simulated":
		m, err := simulatedMeasurement()
		if err != nil {
			return nil, err
		}
		pinned = m
	case kind == "sev-snp":
		return nil, usagef("--measurement is required with --attest sev-snp: pin the launch measurement of the oracle image")
	}
	a := &attestation{}
	var roots *attest.TrustedRoots
	var err error
	switch kind {
	case "simulated":
		a.kind = wire.AttestationSimulated
		roots, err = attest.SimulatedRoots()
		if err == nil && device {
			a.attester, err = attest.NewSimulated(attest.SimulatedConfig{Measurement: pinned, VMPL: uint32(vmpl), TCB: pf.milan.t, GuestSVN: uint32(pf.guestSVN)})
		}
	case "sev-snp":
		a.kind = wire.AttestationSEVSNP
		roots, err = attest.AMDRoots()
		if err == nil && device {
			a.attester, err = attest.NewHardware(uint32(vmpl))
		}
	default:
		return nil, usagef("--attest %q: want simulated or sev-snp", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("attestation: %w", err)
	}
	policy := attest.Policy{Roots: roots, Measurement: pinned, VMPL: uint32(vmpl), MinimumTCBByProduct: pf.floors(), MinimumGuestSVN: uint32(pf.guestSVN)}
	a.policy = policy
	if a.verifier, err = attest.NewVerifier(policy); err != nil {
		return nil, fmt.Errorf("attestation policy: %w", err)
	}
	return a, nil
}

// Kind implements oracle.Attester.
func (a *attestation) Kind() wire.Attestation { return a.kind }

// Evidence implements oracle.Attester: a report whose REPORT_DATA binds the
// node's membership claim (which holds its identity keys) and the nonce,
// as attest.ReportData(claim, "", nonce).
func (a *attestation) Evidence(claim []byte, nonce [wire.NonceSize]byte) ([]byte, error) {
	if a.attester == nil {
		return nil, errors.New("no attestation device")
	}
	if _, err := membership.ParseClaim(claim); err != nil {
		return nil, err
	}
	ev, err := a.attester.Attest(attest.ReportData(claim, nil, nonce[:]))
	if err != nil {
		return nil, err
	}
	return ev.Marshal()
}

// VerifyPeer implements oracle.Attester: it returns the peer's CHIP_ID.
func (a *attestation) VerifyPeer(evidence, claim []byte, nonce [wire.NonceSize]byte) ([]byte, error) {
	rep, err := a.verify(evidence, claim, nonce)
	if err != nil {
		return nil, err
	}
	return rep.ChipID[:], nil
}

// verify checks evidence for a membership claim and nonce.
func (a *attestation) verify(evidence, claim []byte, nonce [wire.NonceSize]byte) (*attest.Report, error) {
	ev, err := attest.UnmarshalEvidence(evidence)
	if err != nil {
		return nil, err
	}
	if _, err := membership.ParseClaim(claim); err != nil {
		return nil, err
	}
	return a.verifier.VerifyKeys(ev, claim, nil, nonce[:])
}

// check verifies a Hello for the coordinator and returns the measurement.
func (a *attestation) check(h *wire.Hello, nonce [wire.NonceSize]byte) ([]byte, error) {
	if h.Attestation != a.kind {
		return nil, fmt.Errorf("node %d attests with %v, policy requires %v", h.NodeID, h.Attestation, a.kind)
	}
	rep, err := a.verify(h.Evidence, membership.ClaimOf(h).Marshal(), nonce)
	if err != nil {
		return nil, err
	}
	return rep.Measurement[:], nil
}

func hexMeasurement(m []byte) string { return hex.EncodeToString(m) }
