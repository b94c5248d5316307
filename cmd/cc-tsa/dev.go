package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/devca"
)

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev", stderr)
	listen := fs.String("listen", "127.0.0.1:8318", "HTTP listen address")
	dir := fs.String("dir", ".cc-tsa-dev", "directory for sockets and the PEM files (ca.pem, tsa-ecdsa.pem, tsa-mldsa.pem)")
	nodes := fs.Int("nodes", 1, "number of oracles (2 ≤ threshold ≤ nodes ≤ 6, or 1 and 1)")
	threshold := fs.Int("threshold", 1, "signers per token")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	switch {
	case *nodes == 1 && *threshold == 1:
	case *threshold < 2 || *threshold > *nodes || *nodes > 6:
		return usagef("--nodes %d --threshold %d: want 2 ≤ threshold ≤ nodes ≤ 6, or --nodes 1 --threshold 1", *nodes, *threshold)
	default:
		return usagef("--nodes %d --threshold %d: threshold signing is not in this build yet; use --nodes 1 --threshold 1 (single-oracle development mode)", *nodes, *threshold)
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding own executable to start oracles: %w", err)
	}

	log.Warn("DEVELOPMENT MODE: one oracle holds whole keys (NOT THRESHOLD), time from the unverified host clock, no attestation")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Start the oracle processes.
	var addrs []string
	var procs []*exec.Cmd
	var wg sync.WaitGroup
	defer func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			for _, p := range procs {
				p.Process.Kill()
			}
			<-done
		}
	}()
	for i := 1; i <= *nodes; i++ {
		sock := filepath.Join(abs, fmt.Sprintf("node-%d.sock", i))
		addr := "unix:" + sock
		cmd := exec.Command(self, "node", "--listen", addr, "--log-level", *logLevel)
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting oracle %d: %w", i, err)
		}
		log.Info("oracle process started", "node", i, "pid", cmd.Process.Pid, "addr", addr)
		procs = append(procs, cmd)
		addrs = append(addrs, addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := cmd.Wait()
			if ctx.Err() == nil {
				log.Error("oracle process exited", "pid", cmd.Process.Pid, "err", err)
			}
		}()
	}

	nodeList, statuses, err := connectOracles(ctx, addrs, 15*time.Second)
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
	files := map[string][]byte{
		"ca.pem":        ca.RootsPEM(),
		"tsa-ecdsa.pem": devca.CertPEM(ecdsaCert),
		"tsa-mldsa.pem": devca.CertPEM(mldsaCert),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(abs, name), data, 0o644); err != nil {
			return err
		}
	}
	return serveWrapper(ctx, &wrapperParams{
		listen: *listen, nodes: nodeList, threshold: *threshold,
		ecdsaCert: ecdsaCert, mldsaCert: mldsaCert,
		roots: []*x509.Certificate{ca.ECDSARoot, ca.MLDSARoot},
		mode:  modeLabel(statuses), simulated: st.Attestation == wire.AttestationSimulated, log: log,
		auditPath: filepath.Join(abs, "audit.log"),
	}, func(addr string) {
		fmt.Fprintf(stdout, "cc-tsa dev: serving http://%s/ (single oracle, NOT THRESHOLD)\n", addr)
		fmt.Fprintf(stdout, "  trust anchors: %s\n", filepath.Join(abs, "ca.pem"))
		fmt.Fprintf(stdout, "  try: openssl ts -query -data FILE -sha384 -cert -out q.tsq &&\n")
		fmt.Fprintf(stdout, "       curl -s -H 'Content-Type: application/timestamp-query' --data-binary @q.tsq http://%s/ -o r.tsr &&\n", addr)
		fmt.Fprintf(stdout, "       openssl ts -verify -in r.tsr -queryfile q.tsq -CAfile %s\n", filepath.Join(abs, "ca.pem"))
	})
}
