// Package attest produces and checks AMD SEV-SNP attestation evidence for
// CC-TSA signing oracles.
//
// Each oracle binds its node identity public key and its HPKE public key
// into the 64-byte REPORT_DATA of an SEV-SNP attestation report (see
// [ReportData]). Peers and the coordinator trust a node only after a
// [Verifier] has checked its [Evidence]: the report signature and the
// VCEK/VLEK certificate chain up to explicitly configured AMD roots
// (go-sev-guest verify), and the report fields against a [Policy] (pinned
// launch measurement, debug never allowed, required VMPL, minimum TCB,
// expected REPORT_DATA; go-sev-guest validate).
//
// Two [Attester] kinds exist. [Hardware] asks the AMD secure processor
// through configfs-tsm or /dev/sev-guest and works only inside an SEV-SNP
// guest. [Simulated] builds reports in software and signs them with the
// public test keys of go-sev-guest's fake AMD key chain; its evidence is
// labelled SIMULATED and verifies only against [SimulatedRoots], which are
// labelled the same way. The verifier runs exactly the same checks for both
// kinds: only the trusted roots differ.
//
// Evidence travels in a strict length-prefixed binary form ([Evidence.Marshal],
// [UnmarshalEvidence]).
package attest
