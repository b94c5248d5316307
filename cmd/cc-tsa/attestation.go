package main

import (
	"crypto/sha512"
	"encoding/hex"
	"errors"
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

// newAttestation builds the attestation of kind "simulated" or "sev-snp".
// measurementHex pins the expected launch measurement (required for
// sev-snp; for simulated it defaults to this binary's measurement). With
// device set it also opens the attester for this node.
func newAttestation(kind, measurementHex string, vmpl uint, device bool) (*attestation, error) {
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
			a.attester, err = attest.NewSimulated(attest.SimulatedConfig{Measurement: pinned, VMPL: uint32(vmpl)})
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
	if a.verifier, err = attest.NewVerifier(attest.Policy{Roots: roots, Measurement: pinned, VMPL: uint32(vmpl)}); err != nil {
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
