package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/attest"
	"github.com/cc-tsa/cc-tsa/cvm/membership"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/devca"
	"github.com/cc-tsa/cc-tsa/wrapper/tsaserver"
)

func runAttest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("attest", stderr)
	url := fs.String("url", "http://127.0.0.1:8318/", "TSA URL")
	kind := fs.String("attest", "simulated", "what to accept: sev-snp (AMD roots) or simulated (the fake roots of development mode)")
	measurement := fs.String("measurement", "", "launch measurement (hex) to require; default: the one in --cert's attestation-evidence extension")
	certFile := fs.String("cert", "", "a TSA certificate (PEM) whose attestation-evidence extension names the measurement")
	vmpl := fs.Uint("vmpl", 0, "required VMPL")
	policy := addPolicyFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *measurement == "" && *certFile != "" {
		certs, err := readCerts(*certFile)
		if err != nil {
			return err
		}
		ev, err := devca.ParseEvidence(certs[0])
		if err != nil {
			return err
		}
		*measurement = hex.EncodeToString(ev.Measurement)
		fmt.Fprintf(stdout, "measurement from %s: %s (ceremony transcript %x…, simulated: %v)\n", *certFile, *measurement, ev.TranscriptHash[:8], ev.Simulated)
	}
	if *measurement == "" && *kind != "simulated" {
		return usagef("give --measurement or --cert")
	}
	if *measurement == "" {
		return usagef("give --measurement or --cert (the TSA certificate carries the attested measurement)")
	}
	att, err := newAttestation(*kind, *measurement, *vmpl, false, policy)
	if err != nil {
		return err
	}
	var nonce [wire.NonceSize]byte
	rand.Read(nonce[:])
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(*url, "/")+"/attest?nonce="+hex.EncodeToString(nonce[:]), nil)
	if err != nil {
		return usagef("--url: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("TSA answered HTTP %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var nodes []tsaserver.AttestedNode
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&nodes); err != nil {
		return fmt.Errorf("decoding /attest: %w", err)
	}
	if len(nodes) == 0 {
		return fmt.Errorf("the TSA returned no attestation")
	}
	failed := 0
	for _, n := range nodes {
		claim, err := membership.ParseClaim(n.Claim)
		if err == nil && (claim.Index != n.Node || !bytes.Equal(claim.Keys, n.Identity)) {
			err = fmt.Errorf("the claim names node %d with other keys", claim.Index)
		}
		var rep *attest.Report
		if err == nil {
			rep, err = att.verify(n.Evidence, n.Claim, nonce)
		}
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "node %d: REFUSED: %v\n", n.Node, err)
			continue
		}
		label := "AMD SEV-SNP"
		if rep.Simulated {
			label = "SIMULATED (fake AMD roots: proves nothing about the platform)"
		}
		fmt.Fprintf(stdout, "node %d: OK  %s, measurement %x, chip %x…, VMPL %d, cluster %x… epoch %d, fresh for nonce %x…\n",
			n.Node, label, rep.Measurement, rep.ChipID[:8], rep.VMPL, claim.Cluster[:8], claim.Epoch, nonce[:8])
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d oracles failed attestation", failed, len(nodes))
	}
	return nil
}
