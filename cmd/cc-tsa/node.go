package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/clock"
	"github.com/cc-tsa/cc-tsa/cvm/oracle"
	"github.com/cc-tsa/cc-tsa/cvm/transport"
	"github.com/cc-tsa/cc-tsa/cvm/trustedclock"
	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/timesync/crosscheck"
)

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "replace" {
		return runNodeReplace(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "refresh" {
		return runNodeRefresh(ctx, args[1:], stdout, stderr)
	}
	fs := newFlagSet("node", stderr)
	listen := fs.String("listen", "unix:cc-tsa-node.sock", "where to listen: unix:PATH (development) or vsock:PORT (in a CVM)")
	cn := fs.String("tsa-cn", "CC-TSA development TSA (single oracle, NOT THRESHOLD)", "common name of the TSA, written into every token")
	org := fs.String("tsa-org", "CC-TSA", "organisation of the TSA, written into every token")
	accuracy := fs.Duration("host-clock-accuracy", 100*time.Millisecond, "accuracy claimed for the unverified host clock (only without --nts, development only)")
	maxAccuracy := fs.Duration("max-accuracy", oracle.DefaultMaxAccuracy, "widest accuracy this oracle accepts in a proposal and claims as leader (at most 1h)")
	nts := addNTSFlags(fs)
	buildFloorFlag := fs.String("build-floor", "", "earliest plausible time, RFC 3339 UTC (e.g. 2026-01-02T03:04:05Z): NTS-KE certificates are never checked at an earlier time; it can only raise the floor linked into the binary (required in production if the binary has none)")
	minRateSpan := fs.Duration("min-rate-span", defaultMinRateSpan, "production: how long the local clock's rate must have been measured against NTS, and converged within ±50 ppm, before the clock is trusted (1m to 30m; not required in development)")
	id := fs.Uint("id", 0, "this oracle's node id (1..nodes) in a threshold cluster; 0: single-oracle development mode")
	nodes := fs.Uint("nodes", 0, "cluster size")
	threshold := fs.Uint("threshold", 0, "signers per token")
	silence := fs.Duration("silence-before-change", oracle.DefaultSilenceBeforeChange, "how long a node index must have been silent before this oracle endorses replacing it (a guard against mistakes, not a security boundary)")
	attestKind := fs.String("attest", "simulated", "attestation: simulated (fake SEV-SNP device, development) or sev-snp (hardware)")
	measurement := fs.String("measurement", "", "pinned launch measurement (hex) that peers must attest to (default for simulated: SHA-384 of this binary)")
	vmpl := fs.Uint("vmpl", 0, "VMPL the oracle runs at and requires of its peers")
	policy := addPolicyFlags(fs)
	pool := fs.Int("mldsa-pool", oracle.DefaultMLDSAPool, "ML-DSA round-1 states to keep precomputed")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	if *maxAccuracy < time.Millisecond || *maxAccuracy > time.Hour {
		return usagef("--max-accuracy %v: want 1ms to 1h", *maxAccuracy)
	}
	if *accuracy <= 0 || *accuracy >= *maxAccuracy {
		return usagef("--host-clock-accuracy %v: want a positive duration below --max-accuracy %v", *accuracy, *maxAccuracy)
	}
	name, err := tst.EncodeName([][2]string{{"O", *org}, {"CN", *cn}})
	if err != nil {
		return usagef("TSA name: %v", err)
	}
	floor, err := resolveBuildFloor(*buildFloorFlag, linkedBuildTime, embeddedBuildInfo())
	if err != nil {
		return err
	}
	var clk clock.Clock = clock.Host{Accuracy: *accuracy}
	var tc *trustedclock.Clock
	switch {
	case len(nts.servers) > 0:
		var err error
		tc, err = newNodeClock(ctx, nts.servers, nts.caFile, nodeClockOptions{
			DevServer: nts.dev, DevPlatform: *id == 0 || *attestKind == "simulated", RequirePeers: *id != 0,
			BuildFloor: floor, MinRateSpan: *minRateSpan,
		}, log)
		if err != nil {
			return err
		}
		defer tc.Close()
		clk = tc
	case *id != 0 && *attestKind == "sev-snp":
		return usagef("a production oracle needs trusted time: give --nts servers and --nts-ca")
	default:
		log.Warn("no --nts servers: time comes from the unverified host clock (development only)")
	}
	cfg := oracle.Config{TSAName: name, Clock: clk, Logger: log, MaxAccuracy: *maxAccuracy}
	if *id != 0 {
		if *nodes < 2 || *nodes > 6 || *threshold < 2 || *threshold > *nodes || *id > *nodes {
			return usagef("--id %d --nodes %d --threshold %d: want 2 ≤ threshold ≤ nodes ≤ 6 and 1 ≤ id ≤ nodes", *id, *nodes, *threshold)
		}
		att, err := newAttestation(*attestKind, *measurement, *vmpl, true, policy)
		if err != nil {
			return err
		}
		if att.kind == wire.AttestationSimulated {
			log.Warn("attestation is SIMULATED: a fake SEV-SNP device signs the reports; they prove nothing about the platform")
		}
		cfg.NodeID, cfg.Nodes, cfg.Threshold = uint8(*id), uint8(*nodes), uint8(*threshold)
		cfg.SilenceBeforeChange = *silence
		cfg.Attester, cfg.MLDSAPool = att, *pool
		if tc != nil {
			// The cross-node check: the node's clock must agree with at
			// least threshold−1 peers, so that the nodes agreeing on time
			// are as many as the nodes needed to sign.
			var peers []crosscheck.NodeID
			for p := 1; p <= int(*nodes); p++ {
				if p != int(*id) {
					peers = append(peers, crosscheck.NodeID(p))
				}
			}
			cc, err := crosscheck.New(crosscheck.Config{Self: crosscheck.NodeID(*id), Peers: peers, Required: int(*threshold) - 1, Clock: tc.PeerClock})
			if err != nil {
				return err
			}
			cfg.CrossCheck, cfg.OnVerdict = cc, tc.ObservePeers
		}
	}
	o, err := oracle.New(cfg)
	if err != nil {
		return err
	}
	l, err := transport.Listen(*listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *listen, err)
	}
	log.Info("oracle listening", "addr", *listen, "clock", clk.Now().Source)
	err = o.Serve(ctx, l)
	o.Stop()
	log.Info("oracle stopped")
	return err
}
