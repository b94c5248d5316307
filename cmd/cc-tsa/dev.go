package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"github.com/cc-tsa/cc-tsa/cvm/oracle"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/cc-tsa/cc-tsa/wrapper/coordinator"
	"github.com/cc-tsa/cc-tsa/wrapper/devca"
)

// devSilence is how long development oracles require a node index to be
// silent before they endorse its replacement.
const devSilence = 2 * time.Second

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev", stderr)
	listen := fs.String("listen", "127.0.0.1:8318", "HTTP listen address")
	dir := fs.String("dir", ".cc-tsa-dev", "directory for sockets, the PEM files (ca.pem, tsa-ecdsa.pem, tsa-mldsa.pem), ceremony.json and audit.log")
	nodes := fs.Int("nodes", 5, "number of oracles (3-of-5 is the product; 1 and 1 is the single-oracle development mode)")
	threshold := fs.Int("threshold", 3, "signers per token")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	maxAccuracy := fs.Duration("max-accuracy", oracle.DefaultMaxAccuracy, "widest accuracy the oracles accept in a proposal and claim as leader (at most 1h)")
	nts := addNTSFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	if len(nts.servers) > 0 && nts.caFile == "" {
		return usagef("--nts needs --nts-ca")
	}
	if *maxAccuracy < time.Millisecond || *maxAccuracy > time.Hour {
		return usagef("--max-accuracy %v: want 1ms to 1h", *maxAccuracy)
	}
	switch {
	case *nodes == 1 && *threshold == 1:
	case *threshold < 2 || *threshold > *nodes || *nodes > 6:
		return usagef("--nodes %d --threshold %d: want 2 ≤ threshold ≤ nodes ≤ 6, or --nodes 1 --threshold 1", *nodes, *threshold)
	case *nodes != 5 || *threshold != 3:
		return usagef("--nodes %d --threshold %d: this build runs hybrid tokens with 3-of-5 only (threshold ECDSA is 3-of-5); use the default, or --nodes 1 --threshold 1", *nodes, *threshold)
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sup := &supervisor{dir: abs, logLevel: *logLevel, log: log, stderr: stderr}
	defer sup.stopAll()
	// Trusted time: the oracles reach it through the real NTS client path,
	// from the given servers or from a development NTS server on loopback
	// that serves this host's clock.
	if len(nts.servers) == 0 {
		addr, ca, stop, err := startDevNTS(ctx, abs, log)
		if err != nil {
			return fmt.Errorf("starting the development NTS server: %w", err)
		}
		defer stop()
		sup.timeFlags = []string{"--nts", addr, "--nts-ca", ca, "--nts-dev"}
	} else {
		for _, s := range nts.servers {
			sup.timeFlags = append(sup.timeFlags, "--nts", s)
		}
		sup.timeFlags = append(sup.timeFlags, "--nts-ca", nts.caFile)
	}
	sup.timeFlags = append(sup.timeFlags, "--max-accuracy", maxAccuracy.String())
	if *nodes == 1 {
		return runDevSingle(ctx, sup, *listen, stdout, log)
	}
	return runDevCluster(ctx, sup, *listen, *nodes, *threshold, stdout, log)
}

// supervisor starts and stops the oracle processes of development mode.
type supervisor struct {
	dir       string
	logLevel  string
	timeFlags []string // --nts and --max-accuracy flags for every oracle
	log       *slog.Logger
	stderr    io.Writer

	mu    sync.Mutex
	procs map[int]*exec.Cmd
	wg    sync.WaitGroup
}

func (s *supervisor) addr(id int) string {
	return "unix:" + filepath.Join(s.dir, fmt.Sprintf("node-%d.sock", id))
}

// start starts oracle id with the given extra flags.
func (s *supervisor) start(id int, extra ...string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding own executable to start oracles: %w", err)
	}
	args := append([]string{"node", "--listen", s.addr(id), "--log-level", s.logLevel}, s.timeFlags...)
	args = append(args, extra...)
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = s.stderr, s.stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting oracle %d: %w", id, err)
	}
	s.log.Info("oracle process started", "node", id, "pid", cmd.Process.Pid, "addr", s.addr(id))
	s.mu.Lock()
	if s.procs == nil {
		s.procs = make(map[int]*exec.Cmd)
	}
	s.procs[id] = cmd
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := cmd.Wait()
		s.mu.Lock()
		current := s.procs[id] == cmd
		s.mu.Unlock()
		if current {
			s.log.Error("oracle process exited", "node", id, "pid", cmd.Process.Pid, "err", err)
		}
	}()
	return nil
}

// kill stops oracle id (SIGKILL: what a crash looks like).
func (s *supervisor) kill(id int) error {
	s.mu.Lock()
	cmd, ok := s.procs[id]
	delete(s.procs, id)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("no oracle %d running", id)
	}
	return cmd.Process.Kill()
}

func (s *supervisor) stopAll() {
	s.mu.Lock()
	procs := s.procs
	s.procs = nil
	s.mu.Unlock()
	for _, p := range procs {
		p.Process.Signal(syscall.SIGTERM)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		for _, p := range procs {
			p.Process.Kill()
		}
		<-done
	}
}

func runDevSingle(ctx context.Context, sup *supervisor, listen string, stdout io.Writer, log *slog.Logger) error {
	log.Warn("DEVELOPMENT MODE: one oracle holds whole keys (NOT THRESHOLD), no attestation")
	if err := sup.start(1); err != nil {
		return err
	}
	nodeList, statuses, err := connectOracles(ctx, []string{sup.addr(1)}, 15*time.Second)
	if err != nil {
		return err
	}
	st := statuses[0]
	ca, err := devca.New("development, NOT THRESHOLD, no attestation")
	if err != nil {
		return err
	}
	ecdsaCert, mldsaCert, err := ca.IssueTSA(&devca.Subject{
		Name: st.TSAName, ECDSAPublicKey: st.ECDSAPublicKey, MLDSAPublicKey: st.MLDSAPublicKey,
		ECDSAKeyID: st.ECDSAKeyID, MLDSAKeyID: st.MLDSAKeyID,
	})
	if err != nil {
		return err
	}
	if err := installCerts(ctx, nodeList, statuses, ecdsaCert, mldsaCert); err != nil {
		return err
	}
	if _, err := writeDevFiles(sup.dir, ca, ecdsaCert, mldsaCert, nil); err != nil {
		return err
	}
	return serveWrapper(ctx, &wrapperParams{
		listen: listen, nodes: nodeList, threshold: 1,
		ecdsaCert: ecdsaCert, mldsaCert: mldsaCert, roots: []*x509.Certificate{ca.ECDSARoot, ca.MLDSARoot},
		mode: modeLabel(statuses), log: log, auditPath: filepath.Join(sup.dir, "audit.log"),
	}, func(addr string) { printDevBanner(stdout, addr, sup.dir, "single oracle, NOT THRESHOLD") })
}

func runDevCluster(ctx context.Context, sup *supervisor, listen string, n, t int, stdout io.Writer, log *slog.Logger) error {
	log.Warn("DEVELOPMENT MODE: oracles are local processes and their SEV-SNP attestation is SIMULATED")
	// A killed development oracle may be replaced after devSilence
	// (production default: oracle.DefaultSilenceBeforeChange).
	nodeFlags := []string{"--nodes", strconv.Itoa(n), "--threshold", strconv.Itoa(t), "--attest", "simulated", "--silence-before-change", devSilence.String(),
		"--tsa-cn", fmt.Sprintf("CC-TSA development TSA (%d-of-%d threshold, SIMULATED SEV-SNP)", t, n)}
	var addrs []string
	for id := 1; id <= n; id++ {
		if err := sup.start(id, append([]string{"--id", strconv.Itoa(id)}, nodeFlags...)...); err != nil {
			return err
		}
		addrs = append(addrs, sup.addr(id))
	}
	nodeList, statuses, err := connectOracles(ctx, addrs, 15*time.Second)
	if err != nil {
		return err
	}
	for i, st := range statuses {
		nodeList[i].SetStatus(st)
	}
	att, err := newAttestation("simulated", "", 0, false, nil)
	if err != nil {
		return err
	}
	start := time.Now()
	fmt.Fprintf(stdout, "cc-tsa dev: key ceremony with %d oracles (SIMULATED SEV-SNP attestation)\n", n)
	res, err := coordinator.RunCeremony(ctx, coordinator.CeremonyConfig{
		Nodes: nodeList, Threshold: t, Attest: att.check, Logger: log, TimeCheck: true,
		Progress: func(phase string) { fmt.Fprintf(stdout, "  %6.1fs  %s\n", time.Since(start).Seconds(), phase) },
	})
	if err != nil {
		return fmt.Errorf("key ceremony: %w", err)
	}
	fmt.Fprintf(stdout, "  %6.1fs  done: transcript %x…\n", time.Since(start).Seconds(), res.TranscriptHash[:8])
	ca, err := devca.New("development, SIMULATED SEV-SNP")
	if err != nil {
		return err
	}
	ecdsaCert, mldsaCert, err := ca.IssueFromCSRs(res.MLDSACSR, res.ECDSACSR, &devca.Evidence{
		Measurement: res.Measurement, TranscriptHash: res.TranscriptHash[:], Simulated: true,
	})
	if err != nil {
		return err
	}
	if err := coordinator.InstallCertificates(ctx, nodeList, coordinator.InstallRequestFor(ecdsaCert, mldsaCert)); err != nil {
		return err
	}
	record, err := writeDevFiles(sup.dir, ca, ecdsaCert, mldsaCert, res)
	if err != nil {
		return err
	}
	return serveWrapper(ctx, &wrapperParams{
		listen: listen, nodes: nodeList, threshold: t, ceremony: record,
		ecdsaCert: ecdsaCert, mldsaCert: mldsaCert, roots: []*x509.Certificate{ca.ECDSARoot, ca.MLDSARoot},
		mode:      fmt.Sprintf("%d-of-%d threshold, SIMULATED SEV-SNP attestation (development)", t, n),
		simulated: true, log: log, auditPath: filepath.Join(sup.dir, "audit.log"),
		transcript: res.TranscriptHash[:], attest: att, supervisor: sup, nodeFlags: nodeFlags,
	}, func(addr string) {
		printDevBanner(stdout, addr, sup.dir, fmt.Sprintf("%d-of-%d threshold, SIMULATED SEV-SNP", t, n))
	})
}

func printDevBanner(w io.Writer, addr, dir, label string) {
	fmt.Fprintf(w, "cc-tsa dev: serving http://%s/ (%s)\n", addr, label)
	fmt.Fprintf(w, "  trust anchors: %s\n", filepath.Join(dir, "ca.pem"))
	fmt.Fprintf(w, "  try: openssl ts -query -data FILE -sha384 -cert -out q.tsq &&\n")
	fmt.Fprintf(w, "       curl -s -H 'Content-Type: application/timestamp-query' --data-binary @q.tsq http://%s/ -o r.tsr &&\n", addr)
	fmt.Fprintf(w, "       openssl ts -verify -in r.tsr -queryfile q.tsq -CAfile %s\n", filepath.Join(dir, "ca.pem"))
}

// writeDevFiles writes the trust anchors, the TSA certificates and, for a
// cluster, the public record of the ceremony.
func writeDevFiles(dir string, ca *devca.CA, ecdsaCert, mldsaCert *x509.Certificate, res *coordinator.CeremonyResult) ([]byte, error) {
	files := map[string][]byte{
		"ca.pem":        ca.RootsPEM(),
		"tsa-ecdsa.pem": devca.CertPEM(ecdsaCert),
		"tsa-mldsa.pem": devca.CertPEM(mldsaCert),
	}
	var record []byte
	if res != nil {
		files["mldsa.csr"] = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: res.MLDSACSR})
		files["ecdsa.csr"] = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: res.ECDSACSR})
		var err error
		if record, err = writeCeremonyJSON(filepath.Join(dir, "ceremony.json"), res, "SIMULATED SEV-SNP"); err != nil {
			return nil, err
		}
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return nil, err
		}
	}
	return record, nil
}

// writeCeremonyJSON writes the public record of a key ceremony
// (coordinator.CeremonyRecord) and returns it.
func writeCeremonyJSON(path string, res *coordinator.CeremonyResult, attestation string) ([]byte, error) {
	rec, err := res.Record(attestation)
	if err != nil {
		return nil, err
	}
	j, err := rec.Marshal()
	if err != nil {
		return nil, err
	}
	return j, os.WriteFile(path, j, 0o644)
}
