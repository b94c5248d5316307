package attest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha512"
	"errors"
	"math/big"
	"testing"

	sevtest "github.com/google/go-sev-guest/testing"
)

// FuzzUnmarshalEvidence checks that the evidence decoder never panics,
// fails only with ErrMalformed, and is canonical: whatever it accepts
// re-encodes to the same bytes.
func FuzzUnmarshalEvidence(f *testing.F) {
	sim := newSim(f, nil)
	ev := attest(f, sim, testReportData("fuzz"))
	good, err := ev.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte("CCEV\x01\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := UnmarshalEvidence(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, err := e.Marshal()
		if err != nil {
			t.Fatalf("accepted evidence does not marshal: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatal("decoding is not canonical")
		}
	})
}

// FuzzVerify feeds arbitrary evidence through the whole verifier (and so
// through go-sev-guest's report, certificate and extension parsers): it
// must never panic and never accept anything but genuine evidence.
func FuzzVerify(f *testing.F) {
	sim := newSim(f, nil)
	rd := testReportData("fuzz")
	good, err := attest(f, sim, rd).Marshal()
	if err != nil {
		f.Fatal(err)
	}
	v := newVerifier(f, sim.Roots(), nil)
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := UnmarshalEvidence(b)
		if err != nil {
			return
		}
		rep, err := v.Verify(e, rd)
		if err != nil {
			return
		}
		// Seeds come from another process (another simulator), so check
		// acceptance against the fake VCEK and VLEK keys themselves, with
		// crypto/ecdsa.
		if rep.ReportData != rd || rep.Measurement != testMeasurement() ||
			!fakeSigned(e.Report, &sevtest.DefaultVcek().PublicKey) && !fakeSigned(e.Report, &sevtest.DefaultVlek().PublicKey) {
			t.Fatalf("accepted a report the fake VCEK or VLEK did not sign: %x", e.Report)
		}
	})
}

// FuzzParseCertTable checks the parser of the host-supplied certificate
// table: no panic, typed errors, blobs within the input.
func FuzzParseCertTable(f *testing.F) {
	sim := newSim(f, nil)
	table, err := sim.signer.CertTableBytes()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(table)
	f.Add([]byte{})
	f.Add(make([]byte, certTableEntrySize))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseCertTable(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// Blobs may overlap (the format allows it), but each lies within
		// the input after the entries.
		for id, blob := range m {
			if len(blob) > len(b)-certTableEntrySize {
				t.Fatalf("blob %x longer than the table", id)
			}
		}
	})
}

// fakeSigned checks a report's signature under pub with crypto/ecdsa
// (layout per the SEV-SNP ABI).
func fakeSigned(report []byte, pub *ecdsa.PublicKey) bool {
	le := func(b []byte) *big.Int {
		be := make([]byte, len(b))
		for i := range b {
			be[len(b)-1-i] = b[i]
		}
		return new(big.Int).SetBytes(be)
	}
	digest := sha512.Sum384(report[:offSignature])
	return ecdsa.Verify(pub, digest[:],
		le(report[offSignature:offSignature+72]), le(report[offSignature+72:offSignature+144]))
}
