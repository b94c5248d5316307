package main

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cc-tsa/cc-tsa/wrapper/coordinator"
	"github.com/cc-tsa/cc-tsa/wrapper/devca"
)

// runCeremony runs the key ceremony on running oracles: attestation, both
// distributed key generations, key confirmation and the two certification
// requests, which it writes for the CA. With --dev-ca it also issues
// certificates from a fresh development CA.
func runCeremony(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ceremony", stderr)
	var oracles multiFlag
	fs.Var(&oracles, "oracle", "oracle address, unix:PATH or vsock:CID:PORT (repeat for every oracle)")
	threshold := fs.Int("threshold", 3, "signers per token")
	attestKind := fs.String("attest", "sev-snp", "attestation to require: sev-snp or simulated")
	measurement := fs.String("measurement", "", "pinned launch measurement (hex) of the oracle image")
	policy := addPolicyFlags(fs)
	out := fs.String("out", "ceremony", "directory for mldsa.csr, ecdsa.csr and ceremony.json")
	devCA := fs.Bool("dev-ca", false, "also issue TSA certificates from a fresh development CA (testing only)")
	logLevel := fs.String("log-level", "info", "log level")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	if len(oracles) < 2 {
		return usagef("give every oracle with --oracle")
	}
	att, err := newAttestation(*attestKind, *measurement, 0, false, policy)
	if err != nil {
		return err
	}
	nodes, _, err := connectOracles(ctx, oracles, 30*time.Second)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := coordinator.RunCeremony(ctx, coordinator.CeremonyConfig{
		Nodes: nodes, Threshold: *threshold, Attest: att.check, Logger: log, TimeCheck: true,
		Progress: func(phase string) { fmt.Fprintf(stdout, "%6.1fs  %s\n", time.Since(start).Seconds(), phase) },
	})
	if err != nil {
		return fmt.Errorf("key ceremony: %w", err)
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	if err := writeCeremonyRecord(*out, res, att); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%6.1fs  done: transcript hash %x\n", time.Since(start).Seconds(), res.TranscriptHash)
	fmt.Fprintf(stdout, "wrote %s, %s and %s\n", filepath.Join(*out, "mldsa.csr"), filepath.Join(*out, "ecdsa.csr"), filepath.Join(*out, "ceremony.json"))
	if !*devCA {
		fmt.Fprintln(stdout, "next: have the CA issue both TSA certificates from the CSRs, with a critical id-kp-timeStamping EKU and the attestation-evidence extension, then run cc-tsa serve")
		return nil
	}
	ca, err := devca.New("development CA for a ceremony")
	if err != nil {
		return err
	}
	ec, mc, err := ca.IssueFromCSRs(res.MLDSACSR, res.ECDSACSR, &devca.Evidence{
		Measurement: res.Measurement, TranscriptHash: res.TranscriptHash[:], Simulated: *attestKind == "simulated",
	})
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{"ca.pem": ca.RootsPEM(), "tsa-ecdsa.pem": devca.CertPEM(ec), "tsa-mldsa.pem": devca.CertPEM(mc)} {
		if err := os.WriteFile(filepath.Join(*out, name), data, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "development CA: wrote ca.pem, tsa-ecdsa.pem, tsa-mldsa.pem to %s\n", *out)
	return nil
}

func writeCeremonyRecord(dir string, res *coordinator.CeremonyResult, att *attestation) error {
	if err := os.WriteFile(filepath.Join(dir, "mldsa.csr"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: res.MLDSACSR}), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ecdsa.csr"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: res.ECDSACSR}), 0o644); err != nil {
		return err
	}
	_, err := writeCeremonyJSON(filepath.Join(dir, "ceremony.json"), res, att.kind.String())
	return err
}
