package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/audit"
	"github.com/cc-tsa/cc-tsa/wrapper/coordinator"
	"github.com/cc-tsa/cc-tsa/wrapper/devca"
	"github.com/cc-tsa/cc-tsa/wrapper/oracleclient"
	"github.com/cc-tsa/cc-tsa/wrapper/tsaserver"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	listen := fs.String("listen", "127.0.0.1:8318", "HTTP listen address")
	var oracles multiFlag
	fs.Var(&oracles, "oracle", "oracle address, unix:PATH or vsock:CID:PORT (repeat for each oracle)")
	threshold := fs.Int("threshold", 1, "signers per token")
	ecdsaFile := fs.String("ecdsa-cert", "", "PEM file: the ECDSA P-384 TSA certificate, then any intermediates")
	mldsaFile := fs.String("mldsa-cert", "", "PEM file: the ML-DSA-65 TSA certificate")
	caFile := fs.String("ca", "", "PEM file of trust anchors to publish at /certs (optional)")
	ceremonyFile := fs.String("ceremony", "", "the key ceremony's public record (ceremony.json written by cc-tsa ceremony), published at /ceremony for cc-tsa attest; must match the certificates' transcript hash (threshold clusters)")
	auditPath := fs.String("audit-log", "", "append-only audit log; every token is recorded here before it is sent (required)")
	attestKind := fs.String("attest", "sev-snp", "attestation the oracles must present (threshold clusters): sev-snp or simulated")
	measurement := fs.String("measurement", "", "pinned launch measurement (hex) of the oracle image (threshold clusters)")
	policy := addPolicyFlags(fs)
	presignPool := fs.Int("presign-pool", 4, "ECDSA presignatures the oracles keep per signer set (threshold clusters; single-use, in the oracles' memory only)")
	idleAttempts := fs.Int("idle-attempts", 1, "ML-DSA attempts a session runs at once while it is the only one (1 or 2); 2 cuts the latency of a lone token when every oracle has CPUs of its own")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *presignPool < 1 || *presignPool > 64 {
		return usagef("--presign-pool must be between 1 and 64")
	}
	if *idleAttempts < 1 || *idleAttempts > coordinator.MaxConcurrentAttempts {
		return usagef("--idle-attempts must be 1 or %d", coordinator.MaxConcurrentAttempts)
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	if len(oracles) == 0 {
		return usagef("at least one --oracle is required")
	}
	if *ecdsaFile == "" || *mldsaFile == "" {
		return usagef("--ecdsa-cert and --mldsa-cert are required")
	}
	if *auditPath == "" {
		return usagef("--audit-log is required: no token is issued without its audit record")
	}
	ecdsaChain, err := readCerts(*ecdsaFile)
	if err != nil {
		return err
	}
	mldsaChain, err := readCerts(*mldsaFile)
	if err != nil {
		return err
	}
	var roots []*x509.Certificate
	if *caFile != "" {
		if roots, err = readCerts(*caFile); err != nil {
			return err
		}
	}
	var record []byte
	var transcript []byte
	if *ceremonyFile != "" {
		if record, err = os.ReadFile(*ceremonyFile); err != nil {
			return err
		}
		rec, err := checkCeremonyRecord(record, ecdsaChain[0])
		if err != nil {
			return fmt.Errorf("%s: %w", *ceremonyFile, err)
		}
		transcript = rec.TranscriptHash
	}
	nodes, statuses, err := connectOracles(ctx, oracles, 10*time.Second)
	if err != nil {
		return err
	}
	var att *attestation
	if *threshold > 1 {
		if att, err = newAttestation(*attestKind, *measurement, 0, false, policy); err != nil {
			return err
		}
		// Learn and check every oracle's attested identity: the
		// coordinator relays envelopes signed with those keys.
		if _, _, _, _, err := coordinator.Attest(ctx, nodes, att.check, nil); err != nil {
			return fmt.Errorf("attesting the oracles: %w", err)
		}
		for _, st := range statuses {
			if st.State == wire.StateCeremony && st.ECDSAPublicKey == nil {
				return fmt.Errorf("oracle %d has no keys: run cc-tsa ceremony first", st.NodeID)
			}
		}
	}
	if err := installCerts(ctx, nodes, statuses, ecdsaChain[0], mldsaChain[0]); err != nil {
		return err
	}
	return serveWrapper(ctx, &wrapperParams{
		listen: *listen, nodes: nodes, threshold: *threshold,
		ecdsaCert: ecdsaChain[0], intermediates: ecdsaChain[1:], mldsaCert: mldsaChain[0], roots: roots,
		mode: modeLabel(statuses), simulated: statuses[0].Attestation == wire.AttestationSimulated, log: log,
		auditPath: *auditPath, attest: att, idleAttempts: *idleAttempts, presignPool: *presignPool,
		ceremony: record, transcript: transcript,
	}, nil)
}

// checkCeremonyRecord parses a ceremony record and checks that it is the
// ceremony the ECDSA TSA certificate was issued for: the transcript hash of
// its attestation-evidence extension and its public key.
func checkCeremonyRecord(raw []byte, ecdsaCert *x509.Certificate) (*coordinator.CeremonyRecord, error) {
	rec, err := coordinator.ParseCeremonyRecord(raw)
	if err != nil {
		return nil, err
	}
	ev, err := devca.ParseEvidence(ecdsaCert)
	if err != nil {
		return nil, fmt.Errorf("ECDSA TSA certificate: %w", err)
	}
	pub, ok := ecdsaCert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("ECDSA TSA certificate does not hold an ECDSA key")
	}
	key, err := pub.Bytes()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(rec.TranscriptHash, ev.TranscriptHash) || !bytes.Equal(rec.ECDSAPublicKey, key) {
		return nil, errors.New("the ceremony record is not the ceremony the TSA certificate was issued for (transcript hash or key differ)")
	}
	return rec, nil
}

func modeLabel(st []*wire.Status) string {
	s := st[0]
	if s.Mode == wire.ModeWholeKey {
		return "single oracle, whole keys: NOT THRESHOLD (development only)"
	}
	return fmt.Sprintf("%d-of-%d threshold, attestation: %v", s.Threshold, s.Nodes, s.Attestation)
}

// readCerts reads every CERTIFICATE block of a PEM file.
func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificates found", path)
	}
	return certs, nil
}

// connectOracles dials every oracle, retrying until they answer a status
// request or the wait expires.
func connectOracles(ctx context.Context, addrs []string, wait time.Duration) ([]*coordinator.Node, []*wire.Status, error) {
	deadline := time.Now().Add(wait)
	nodes := make([]*coordinator.Node, len(addrs))
	statuses := make([]*wire.Status, len(addrs))
	for i, a := range addrs {
		for {
			cl, err := oracleclient.Dial(ctx, a)
			if err == nil {
				sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				statuses[i], err = cl.Status(sctx)
				cancel()
				if err == nil {
					nodes[i] = &coordinator.Node{Client: cl}
					nodes[i].SetStatus(statuses[i])
					break
				}
				cl.Close()
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				for _, n := range nodes[:i] {
					n.Client.Close()
				}
				return nil, nil, fmt.Errorf("oracle %s did not answer within %v: %w", a, wait, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nodes, statuses, nil
}

// installCerts checks that the certificates hold the oracles' public keys
// and subject name, and installs them.
func installCerts(ctx context.Context, nodes []*coordinator.Node, statuses []*wire.Status, ecdsaCert, mldsaCert *x509.Certificate) error {
	pub, ok := ecdsaCert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return errors.New("ECDSA TSA certificate does not hold an ECDSA key")
	}
	epub, err := pub.Bytes()
	if err != nil {
		return err
	}
	mpk, err := tsverify.MLDSAPublicKey(mldsaCert)
	if err != nil {
		return fmt.Errorf("ML-DSA TSA certificate: %w", err)
	}
	mpub, _ := mpk.MarshalBinary()
	req := coordinator.InstallRequestFor(ecdsaCert, mldsaCert)
	for i, n := range nodes {
		st := statuses[i]
		switch {
		case !bytes.Equal(st.ECDSAPublicKey, epub):
			return fmt.Errorf("oracle %s: its ECDSA public key is not the one in the ECDSA TSA certificate", n.Client.Addr())
		case !bytes.Equal(st.MLDSAPublicKey, mpub):
			return fmt.Errorf("oracle %s: its ML-DSA public key is not the one in the ML-DSA TSA certificate", n.Client.Addr())
		case !bytes.Equal(st.TSAName, ecdsaCert.RawSubject) || !bytes.Equal(st.TSAName, mldsaCert.RawSubject):
			return fmt.Errorf("oracle %s: the certificates' subject is not the oracle's TSA name", n.Client.Addr())
		}
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := n.Client.Install(ictx, req)
		cancel()
		if err != nil {
			return fmt.Errorf("oracle %s: installing certificates: %w", n.Client.Addr(), err)
		}
	}
	return nil
}

type wrapperParams struct {
	listen        string
	nodes         []*coordinator.Node
	threshold     int
	ecdsaCert     *x509.Certificate
	intermediates []*x509.Certificate
	mldsaCert     *x509.Certificate
	roots         []*x509.Certificate
	mode          string
	simulated     bool
	auditPath     string
	log           *slog.Logger
	// Threshold clusters: the ceremony transcript hash (published at
	// /certs), the attestation policy (for /attest) and, in development
	// mode, the supervisor of the oracle processes (for node replacement).
	transcript []byte
	// ceremony is the ceremony record published at /ceremony (nil: none).
	ceremony   []byte
	attest     *attestation
	supervisor *supervisor
	nodeFlags  []string
	// idleAttempts and presignPool are coordinator.Config.IdleAttempts and
	// PresignPool (0: their defaults).
	idleAttempts, presignPool int
}

// serveWrapper runs the coordinator and the HTTP service until ctx is done.
// started, if not nil, is called with the bound address once serving.
func serveWrapper(ctx context.Context, p *wrapperParams, started func(addr string)) error {
	coord, err := coordinator.New(coordinator.Config{
		Nodes: p.nodes, Threshold: p.threshold, TimeCheck: p.threshold > 1, IdleAttempts: p.idleAttempts, PresignPool: p.presignPool,
		ECDSACert: p.ecdsaCert, MLDSACert: p.mldsaCert, Intermediates: p.intermediates,
		Logger: p.log,
	})
	if err != nil {
		return err
	}
	coord.Poll(ctx)
	go coord.Run(ctx, 2*time.Second)

	var certs bytes.Buffer
	certs.WriteString("# CC-TSA certificates. ECDSA P-384 TSA certificate and chain:\n")
	for _, c := range append([]*x509.Certificate{p.ecdsaCert}, p.intermediates...) {
		certs.Write(devca.CertPEM(c))
	}
	certs.WriteString("# ML-DSA-65 TSA certificate (RFC 9881):\n")
	certs.Write(devca.CertPEM(p.mldsaCert))
	if p.transcript != nil {
		fmt.Fprintf(&certs, "# Key ceremony transcript hash (SHA-512): %x\n", p.transcript)
	}
	if len(p.roots) > 0 {
		certs.WriteString("# Trust anchors (compare with a copy obtained out of band):\n")
		for _, c := range p.roots {
			certs.Write(devca.CertPEM(c))
		}
	}
	al, err := audit.Open(p.auditPath, p.log)
	if err != nil {
		return err
	}
	defer al.Close()
	p.log.Info("audit log open", "path", p.auditPath, "head", al.Head().String())
	tcfg := tsaserver.Config{
		Issuer: coord, CertsPEM: certs.Bytes(), Mode: p.mode, Simulated: p.simulated, Audit: al, Logger: p.log,
		Ceremony: p.ceremony,
	}
	if p.threshold > 1 {
		tcfg.Attest = coord.Hellos
		tcfg.Refresh = coord.RefreshShares
	}
	if p.supervisor != nil {
		install := coordinator.InstallRequestFor(p.ecdsaCert, p.mldsaCert)
		tcfg.Replace = func(ctx context.Context, id uint8) error {
			p.supervisor.kill(int(id)) // it may be dead already
			// The other oracles endorse replacing an index only once it
			// has been silent for devSilence.
			p.log.Info("waiting for the replaced node to be silent", "node", id, "for", devSilence)
			select {
			case <-time.After(devSilence + 500*time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
			if err := p.supervisor.start(int(id), append([]string{"--id", strconv.Itoa(int(id))}, p.nodeFlags...)...); err != nil {
				return err
			}
			nodes, _, err := connectOracles(ctx, []string{p.supervisor.addr(int(id))}, 15*time.Second)
			if err != nil {
				return err
			}
			return coord.Replace(ctx, []coordinator.Replacement{{ID: id, Client: nodes[0].Client}}, p.attest.check, install)
		}
	}
	srv := tsaserver.New(tcfg)
	l, err := net.Listen("tcp", p.listen)
	if err != nil {
		return err
	}
	p.log.Info("serving RFC 3161", "addr", "http://"+l.Addr().String()+"/", "mode", p.mode)
	if started != nil {
		started(l.Addr().String())
	}
	err = srv.Serve(ctx, l)
	for _, n := range p.nodes {
		n.Client.Close()
	}
	return err
}
