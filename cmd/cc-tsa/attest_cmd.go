package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/attest"
	"github.com/cc-tsa/cc-tsa/cvm/membership"
	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/coordinator"
	"github.com/cc-tsa/cc-tsa/wrapper/devca"
	"github.com/cc-tsa/cc-tsa/wrapper/tsaserver"
)

// maxAttestResponse bounds the /attest answer: at most wire.MaxSigners
// entries of base64 claim, identity and evidence.
const maxAttestResponse = 1 << 20

// runAttest checks a running TSA's oracles against its certificate: the
// certificate chains to --ca, the ceremony record matches the transcript
// hash it carries and holds its key, and every member of the cluster that
// ceremony fixed answers with genuine, fresh evidence under the
// attestation policy, each a distinct identity on a distinct chip. It
// prints what it proved and what it did not, and fails unless everything
// it prints as proven holds.
func runAttest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("attest", stderr)
	url := fs.String("url", "http://127.0.0.1:8318/", "TSA URL (serving /attest and /ceremony)")
	kind := fs.String("attest", "sev-snp", "evidence to accept: sev-snp (AMD roots) or simulated (go-sev-guest's public test keys; development only, and refused unless the certificate says its oracles are simulated)")
	certFile := fs.String("cert", "", "the ECDSA TSA certificate (PEM, optionally followed by intermediates): its attestation-evidence extension names the launch measurement and the ceremony transcript (required)")
	caFile := fs.String("ca", "", "trust anchors (PEM) that --cert must chain to (required)")
	vmpl := fs.Uint("vmpl", 0, "required VMPL")
	policy := addPolicyFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *certFile == "" || *caFile == "" {
		return usagef("--cert (the TSA certificate) and --ca (the trust anchors it must chain to) are required")
	}
	if *kind != "sev-snp" && *kind != "simulated" {
		return usagef("--attest %q: want sev-snp or simulated", *kind)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	base := strings.TrimSuffix(*url, "/")

	// 1. The certificate and what it says.
	chain, err := readCerts(*certFile)
	if err != nil {
		return err
	}
	anchors, err := readCerts(*caFile)
	if err != nil {
		return err
	}
	cert, anchor, err := verifyTSACert(chain, anchors, time.Now())
	if err != nil {
		return fmt.Errorf("%s: %w", *certFile, err)
	}
	fmt.Fprintf(stdout, "certificate %q chains to %q from %s (time-stamping, valid until %s)\n",
		cert.Subject.String(), anchor.Subject.String(), *caFile, cert.NotAfter.UTC().Format(time.DateOnly))
	ev, err := devca.ParseEvidence(cert)
	if err != nil {
		return fmt.Errorf("%s: %w", *certFile, err)
	}
	if len(ev.Measurement) != attest.MeasurementSize || len(ev.TranscriptHash) != 64 {
		return fmt.Errorf("%s: the attestation-evidence extension holds a %d-byte measurement and a %d-byte transcript hash", *certFile, len(ev.Measurement), len(ev.TranscriptHash))
	}
	fmt.Fprintf(stdout, "certificate: launch measurement %x, ceremony transcript %x…, simulated: %v\n", ev.Measurement, ev.TranscriptHash[:8], ev.Simulated)
	switch {
	case ev.Simulated && *kind != "simulated":
		return fmt.Errorf("the certificate says its oracles' attestation is SIMULATED (fake AMD keys); cc-tsa attest checks hardware evidence unless given --attest simulated, for a development TSA")
	case !ev.Simulated && *kind == "simulated":
		return fmt.Errorf("the certificate says its oracles are attested by SEV-SNP hardware (simulated: false): simulated evidence is refused for it; drop --attest simulated")
	}
	att, err := newAttestation(*kind, hex.EncodeToString(ev.Measurement), *vmpl, false, policy)
	if err != nil {
		return err
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("%s: not an ECDSA certificate; give the ECDSA TSA certificate (tsa-ecdsa.pem)", *certFile)
	}
	certKey, err := pub.Bytes()
	if err != nil {
		return fmt.Errorf("%s: %w", *certFile, err)
	}

	// 2. The ceremony record, tied to the certificate by its transcript.
	recRaw, err := httpGet(ctx, base+"/ceremony", coordinator.MaxCeremonyRecordSize)
	if err != nil {
		return fmt.Errorf("fetching the ceremony record: %w", err)
	}
	rec, err := coordinator.ParseCeremonyRecord(recRaw)
	if err != nil {
		return err
	}
	switch {
	case !bytes.Equal(rec.TranscriptHash, ev.TranscriptHash):
		return fmt.Errorf("the TSA's ceremony record has transcript %x…, the certificate %x…: it is another ceremony", rec.TranscriptHash[:8], ev.TranscriptHash[:8])
	case !bytes.Equal(rec.Measurement, ev.Measurement):
		return fmt.Errorf("the ceremony record names measurement %x, the certificate %x", rec.Measurement, ev.Measurement)
	case !bytes.Equal(rec.ECDSAPublicKey, certKey):
		return fmt.Errorf("the certificate's ECDSA key is not the key the ceremony generated")
	}
	genesis, err := rec.Genesis()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ceremony record: matches the certified transcript, generated the certificate's key; %d-of-%d cluster %x…\n", rec.Threshold, rec.Nodes, genesis.Cluster[:8])

	// 3. Fresh evidence of every oracle.
	var nonce [wire.NonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	raw, err := httpGet(ctx, base+"/attest?nonce="+hex.EncodeToString(nonce[:]), maxAttestResponse)
	if err != nil {
		return fmt.Errorf("fetching attestation: %w", err)
	}
	nodes, err := parseAttestResponse(raw)
	if err != nil {
		return err
	}
	var problems []string
	var members []membership.Member
	var epochs []uint64
	masked := 0
	for _, n := range nodes {
		claim, rep, err := checkAttestedNode(att, n, nonce)
		if err != nil {
			problems = append(problems, fmt.Sprintf("node %d: %v", n.Node, err))
			fmt.Fprintf(stdout, "node %d: REFUSED: %v\n", n.Node, err)
			continue
		}
		label := "SEV-SNP"
		if rep.Simulated {
			label = "SIMULATED"
		}
		idHash := sha256.Sum256(n.Identity)
		fmt.Fprintf(stdout, "node %d: evidence OK  %s %s, identity %x…, chip %x…, reported TCB %v, guest SVN %d, cluster %x… epoch %d\n",
			n.Node, label, rep.ProductLine, idHash[:6], rep.ChipID[:6], rep.ReportedTCB, rep.GuestSVN, claim.Cluster[:8], claim.Epoch)
		keys, _ := peer.ParsePublicKeys(claim.Keys) // parsed by checkAttestedNode
		if isZero(rep.ChipID[:]) {
			masked++
		}
		members = append(members, membership.Member{Keys: keys, Chip: bytes.Clone(rep.ChipID[:])})
		epochs = append(epochs, claim.Epoch)
		if claim.Cluster != genesis.Cluster {
			problems = append(problems, fmt.Sprintf("node %d claims cluster %x…, the certified ceremony made cluster %x…", n.Node, claim.Cluster[:8], genesis.Cluster[:8]))
		}
		if int(claim.Nodes) != rec.Nodes || int(claim.Threshold) != rec.Threshold {
			problems = append(problems, fmt.Sprintf("node %d claims a %d-of-%d cluster, the ceremony made a %d-of-%d one", n.Node, claim.Threshold, claim.Nodes, rec.Threshold, rec.Nodes))
		}
	}

	// 4. The cluster as a whole.
	if len(nodes) != rec.Nodes {
		problems = append(problems, fmt.Sprintf("the TSA attested %d oracles; the cluster has %d", len(nodes), rec.Nodes))
	}
	seen := map[uint8]bool{}
	for _, n := range nodes {
		if n.Node == 0 || int(n.Node) > rec.Nodes || seen[n.Node] {
			problems = append(problems, fmt.Sprintf("node index %d is out of range or listed twice", n.Node))
		}
		seen[n.Node] = true
	}
	if err := (&membership.Membership{Members: members}).CheckDistinct(); err != nil {
		// CheckDistinct numbers the verified members from 1.
		problems = append(problems, fmt.Sprintf("not distinct oracles: %v", err))
	}
	epoch := uint64(0)
	for i, e := range epochs {
		if e != epochs[0] {
			problems = append(problems, fmt.Sprintf("the oracles claim different epochs (%d and %d)", epochs[0], epochs[i]))
			break
		}
		epoch = e
	}
	if epoch == 0 && len(problems) == 0 {
		for _, n := range nodes {
			keys, _ := genesis.Keys(n.Node)
			if !bytes.Equal(keys.Marshal(), n.Identity) {
				problems = append(problems, fmt.Sprintf("node %d is not the oracle the ceremony fixed as member %d", n.Node, n.Node))
			}
		}
	}
	if len(problems) > 0 {
		fmt.Fprintln(stdout, "FAILED:")
		for _, p := range problems {
			fmt.Fprintf(stdout, "  - %s\n", p)
		}
		return fmt.Errorf("attestation of the TSA failed: %d problem(s), the first: %s", len(problems), problems[0])
	}
	printProven(stdout, att, rec, genesis, epoch, masked, nonce, *caFile, ev.Simulated)
	return nil
}

// printProven prints what a successful run proved and what it did not.
func printProven(w io.Writer, att *attestation, rec *coordinator.CeremonyRecord, genesis *membership.Membership, epoch uint64, masked int, nonce [wire.NonceSize]byte, caFile string, simulated bool) {
	under := "AMD's SEV-SNP roots"
	if simulated {
		under = "the SIMULATED roots (go-sev-guest's public test keys)"
	}
	pf := att.policy
	fmt.Fprintln(w, "PROVEN:")
	fmt.Fprintf(w, "  - the TSA certificate chains to a trust anchor in %s and is valid for time-stamping now\n", caFile)
	fmt.Fprintf(w, "  - the TSA's ceremony record hashes to the transcript the certificate carries and generated the certificate's ECDSA key\n")
	chips := fmt.Sprintf("%d distinct CHIP_IDs", rec.Nodes)
	if masked > 0 {
		chips = fmt.Sprintf("distinct CHIP_IDs where reported (%d masked)", masked)
	}
	fmt.Fprintf(w, "  - %d distinct oracles (%d distinct identities, %s), every node index 1-%d once, each with evidence made for this run's nonce %x… and verified under %s\n",
		rec.Nodes, rec.Nodes, chips, rec.Nodes, nonce[:8], under)
	fmt.Fprintf(w, "  - each runs the launch measurement the certificate names, at VMPL %d, without debugging or a migration agent, REPORTED_TCB and LAUNCH_TCB at least Milan %v / Genoa %v, guest SVN at least %d\n",
		pf.VMPL, pf.MinimumTCBByProduct["Milan"], pf.MinimumTCBByProduct["Genoa"], pf.MinimumGuestSVN)
	if epoch == 0 {
		fmt.Fprintf(w, "  - they are the %d members of epoch 0 of cluster %x…, the %d-of-%d membership that the certified ceremony fixed\n", rec.Nodes, genesis.Cluster[:8], rec.Threshold, rec.Nodes)
	} else {
		fmt.Fprintf(w, "  - each claims membership of cluster %x… (the certified ceremony's) at epoch %d\n", genesis.Cluster[:8], epoch)
	}
	fmt.Fprintln(w, "NOT PROVEN:")
	if simulated {
		fmt.Fprintln(w, "  - anything about hardware: SIMULATED evidence is signed with keys anyone can use; the lines above only show that the simulated oracles are consistent")
	}
	if epoch != 0 {
		fmt.Fprintf(w, "  - that these oracles are the cluster's current members: the membership has changed since the ceremony (epoch %d), and cc-tsa attest does not check membership changes (an oracle applying to join claims the cluster too)\n", epoch)
	}
	if masked > 0 {
		fmt.Fprintf(w, "  - that the %d oracles whose platform masks CHIP_ID run on distinct chips\n", masked)
	}
	fmt.Fprintln(w, "  - that the CA checked the ceremony's attestation before certifying its keys (that is trust in the CA)")
	fmt.Fprintln(w, "  - that the oracles still hold shares of the TSA keys or signed any given token (check tokens with cc-tsa verify)")
	fmt.Fprintln(w, "  - that AMD has not revoked a chip's certificate (no revocation list is fetched)")
}

// checkAttestedNode checks one /attest entry: its claim decodes, names the
// entry's node and identity, and its evidence verifies for the claim and
// nonce under the policy.
func checkAttestedNode(att *attestation, n tsaserver.AttestedNode, nonce [wire.NonceSize]byte) (*membership.Claim, *attest.Report, error) {
	if n.Attestation != att.kind.String() {
		return nil, nil, fmt.Errorf("attests with %q, the policy requires %v", n.Attestation, att.kind)
	}
	claim, err := membership.ParseClaim(n.Claim)
	if err != nil {
		return nil, nil, err
	}
	if claim.Index != n.Node || !bytes.Equal(claim.Keys, n.Identity) {
		return nil, nil, fmt.Errorf("the claim names node %d with other keys", claim.Index)
	}
	if _, err := peer.ParsePublicKeys(claim.Keys); err != nil {
		return nil, nil, err
	}
	rep, err := att.verify(n.Evidence, n.Claim, nonce)
	if err != nil {
		return nil, nil, err
	}
	return claim, rep, nil
}

// verifyTSACert checks that chain[0] chains (through chain[1:]) to one of
// anchors at now, for time-stamping, and returns it and the anchor.
func verifyTSACert(chain, anchors []*x509.Certificate, now time.Time) (*x509.Certificate, *x509.Certificate, error) {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range anchors {
		roots.AddCert(c)
	}
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	chains, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}})
	if err != nil {
		return nil, nil, fmt.Errorf("the TSA certificate does not chain to the trust anchors: %w", err)
	}
	c := chains[0]
	return c[0], c[len(c)-1], nil
}

// httpGet fetches url, refusing answers other than 200 and bodies over
// limit bytes.
func httpGet(ctx context.Context, url string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, usagef("--url: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("%s: HTTP %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: answer longer than %d bytes", url, limit)
	}
	return b, nil
}

// errAttestResponse is wrapped by every error about an /attest answer that
// does not decode.
var errAttestResponse = errors.New("malformed /attest answer")

// parseAttestResponse decodes an /attest answer strictly: at most
// maxAttestResponse bytes, one JSON array of 1 to wire.MaxSigners
// entries with no unknown fields, and nothing after it.
func parseAttestResponse(b []byte) ([]tsaserver.AttestedNode, error) {
	if len(b) > maxAttestResponse {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", errAttestResponse, len(b), maxAttestResponse)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var nodes []tsaserver.AttestedNode
	if err := dec.Decode(&nodes); err != nil {
		return nil, fmt.Errorf("%w: %v", errAttestResponse, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the answer", errAttestResponse)
	}
	if len(nodes) == 0 || len(nodes) > wire.MaxSigners {
		return nil, fmt.Errorf("%w: %d entries, want 1 to %d", errAttestResponse, len(nodes), wire.MaxSigners)
	}
	return nodes, nil
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
