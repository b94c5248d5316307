package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/trustedclock"
	"github.com/cc-tsa/cc-tsa/timesync/anchor"
	tsclock "github.com/cc-tsa/cc-tsa/timesync/clock"
	"github.com/cc-tsa/cc-tsa/timesync/nts"
)

// devNTSCAFile is the file in the dev directory holding the development NTS
// server's self-signed certificate.
const devNTSCAFile = "dev-nts-ca.pem"

// startDevNTS starts the development NTS server (timesync/nts.StartDevServer:
// the host clock behind a throwaway self-signed certificate) on 127.0.0.1
// with ephemeral ports and writes its certificate to dir/dev-nts-ca.pem. It
// returns the NTS-KE address, the certificate path and a stop function
// (idempotent; the server also stops when ctx is done).
func startDevNTS(ctx context.Context, dir string, log *slog.Logger) (addr string, caPEMPath string, stop func(), err error) {
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", nil, fmt.Errorf("dev NTS server: %w", err)
	}
	d, err := nts.StartDevServer("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		return "", "", nil, fmt.Errorf("dev NTS server: %w", err)
	}
	var once sync.Once
	done := make(chan struct{})
	stop = func() {
		once.Do(func() {
			close(done)
			d.Close()
			log.Info("development NTS server stopped", "addr", d.KEAddr())
		})
	}
	caPEMPath = filepath.Join(dir, devNTSCAFile)
	if err := os.WriteFile(caPEMPath, d.CAPEM, 0o644); err != nil {
		stop()
		return "", "", nil, fmt.Errorf("dev NTS server: writing its certificate: %w", err)
	}
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-done:
		}
	}()
	log.Warn("development NTS server started: "+d.Label, "nts-ke", d.KEAddr(), "ntp", d.NTPAddr(), "ca", caPEMPath)
	return d.KEAddr(), caPEMPath, stop, nil
}

// nodeClockOptions say how far a node may trust its time sources.
type nodeClockOptions struct {
	// DevServer: the servers are `cc-tsa dev`'s loopback NTS server; the
	// clock's source then says "development time source".
	DevServer bool
	// DevPlatform lets a machine that is not an SEV-SNP guest become
	// trusted on its ordinary monotonic clock (labelled "not SecureTSC").
	// Set it only for development nodes (simulated attestation); an
	// SEV-SNP guest without SecureTSC is never trusted either way.
	DevPlatform bool
	// Wait bounds the wait for the first trusted reading (0: one minute).
	Wait time.Duration
	// RequirePeers makes the clock trust itself only while the cross-node
	// time check agrees (threshold oracles). The clock then cannot become
	// trusted before the cluster runs check rounds, so newNodeClock does not
	// wait for it.
	RequirePeers bool
	// BuildFloor is the earliest time the clock may assume (the image's
	// build time, see resolveBuildFloor): NTS-KE certificates are checked
	// at no earlier time, also before the first sync, when the only other
	// clock is the host's. Required in production.
	BuildFloor buildFloor
	// MinRateSpan is the span over which the local clock's rate must have
	// been measured against NTS, and converged, before the clock is trusted
	// (production only; see defaultMinRateSpan).
	MinRateSpan time.Duration
}

// production reports whether the options describe a production node: real
// NTS servers and a platform that must be an SEV-SNP guest with SecureTSC.
func (o nodeClockOptions) production() bool { return !o.DevServer && !o.DevPlatform }

// defaultClockWait is nodeClockOptions.Wait's default.
const defaultClockWait = time.Minute

// Bounds of nodeClockOptions.MinRateSpan in production. The default is the
// design's 15 minutes (trusted-time.md §3.4): a host that scales the guest's
// TSC shows as a rate error only over a long enough span, and the rate
// bounds from two intervals of width w over a span S are (w₁+w₂)/S wide, so
// with 10–20 ms intervals from Internet NTS servers the ±50 ppm check needs
// several minutes anyway. The rate history (anchor.RateWindow, 1 h) must
// cover the span, hence at most half of it.
const (
	defaultMinRateSpan = 15 * time.Minute
	minMinRateSpan     = time.Minute
	maxMinRateSpan     = anchor.RateWindow / 2
)

// newNodeClock builds the node's trusted clock over the NTS servers (NTS-KE
// host:port) authenticated by the certificates in caFile only, starts its
// sync loop (which runs until ctx is done; the clock is untrusted for good
// afterwards) and waits until the clock is trusted. If it is not trusted
// within opts.Wait, or ctx ends first, the clock is closed and the error says
// why.
func newNodeClock(ctx context.Context, servers []string, caFile string, opts nodeClockOptions, log *slog.Logger) (*trustedclock.Clock, error) {
	if log == nil {
		log = slog.Default()
	}
	cfg, err := nodeClockConfig(servers, caFile, opts, log)
	if err != nil {
		return nil, err
	}
	if opts.production() {
		log.Info("production clock", "build_floor", opts.BuildFloor.Time.Format(time.RFC3339),
			"build_floor_source", opts.BuildFloor.Source, "min_rate_span", cfg.Health.MinRateSpan)
	} else {
		log.Warn("development clock: no minimum rate span is required before it is trusted",
			"build_floor", floorText(opts.BuildFloor))
	}
	c, err := trustedclock.New(cfg)
	if err != nil {
		return nil, err
	}
	go func() { _ = c.Run(ctx) }()
	if opts.RequirePeers {
		log.Info("clock waits for NTS and for its peers' cross-node verdict before it is trusted")
		return c, nil
	}
	wait := opts.Wait
	if wait <= 0 {
		wait = defaultClockWait
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := c.WaitTrusted(wctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("no trusted time from NTS %v within %v: %w", servers, wait, err)
	}
	log.Info("trusted time available", "source", c.Now().Source)
	return c, nil
}

// ntsFlags are the node's and dev's NTS flags.
type ntsFlags struct {
	servers multiFlag
	caFile  string
	dev     bool
}

// addNTSFlags registers --nts (repeatable), --nts-ca and --nts-dev on fs.
func addNTSFlags(fs *flag.FlagSet) *ntsFlags {
	f := &ntsFlags{}
	fs.Var(&f.servers, "nts", "NTS-KE server HOST:PORT for trusted time (repeatable; a strict majority must agree)")
	fs.StringVar(&f.caFile, "nts-ca", "", "PEM file with the only CA certificates trusted for the --nts servers")
	fs.BoolVar(&f.dev, "nts-dev", false, "the --nts server is the development time source of `cc-tsa dev` (labels the clock)")
	return f
}

// maxCAFile bounds a CA file.
const maxCAFile = 1 << 20

// loadCAFile reads a PEM file of CA certificates (see parseCAPEM).
func loadCAFile(name string) (*x509.CertPool, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCAFile+1))
	if err != nil {
		return nil, fmt.Errorf("CA file %s: %w", name, err)
	}
	pool, err := parseCAPEM(b)
	if err != nil {
		return nil, fmt.Errorf("CA file %s: %w", name, err)
	}
	return pool, nil
}

// errCAPEM is wrapped by every parseCAPEM error.
var errCAPEM = errors.New("invalid CA PEM")

// parseCAPEM parses one or more PEM "CERTIFICATE" blocks, strictly: no other
// block types, no PEM headers, nothing but whitespace around the blocks, every
// certificate must parse, at most maxCAFile bytes and 64 certificates.
func parseCAPEM(b []byte) (*x509.CertPool, error) {
	if len(b) > maxCAFile {
		return nil, fmt.Errorf("%w: larger than %d bytes", errCAPEM, maxCAFile)
	}
	pool := x509.NewCertPool()
	n := 0
	rest := b
	for {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) == 0 {
			break
		}
		at := len(b) - len(rest)
		// Only whitespace may surround blocks, and pem.Decode must not skip
		// anything (it silently skips text and malformed BEGIN lines).
		if !bytes.HasPrefix(rest, []byte("-----BEGIN ")) {
			return nil, fmt.Errorf("%w: data that is not a PEM block at byte %d", errCAPEM, at)
		}
		blk, after := pem.Decode(rest)
		if blk == nil {
			return nil, fmt.Errorf("%w: malformed PEM block at byte %d", errCAPEM, at)
		}
		if bytes.Count(rest[:len(rest)-len(after)], []byte("-----BEGIN")) != 1 {
			return nil, fmt.Errorf("%w: malformed PEM block at byte %d", errCAPEM, at)
		}
		if blk.Type != "CERTIFICATE" || len(blk.Headers) != 0 {
			return nil, fmt.Errorf("%w: PEM block %q (want CERTIFICATE without headers)", errCAPEM, blk.Type)
		}
		if n++; n > 64 {
			return nil, fmt.Errorf("%w: more than 64 certificates", errCAPEM)
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %v", errCAPEM, n, err)
		}
		pool.AddCert(cert)
		rest = after
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: no certificate", errCAPEM)
	}
	return pool, nil
}

// checkServerAddr checks an NTS-KE server address: HOST:PORT with a
// non-empty host and a port in 1..65535.
func checkServerAddr(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if host == "" {
		return errors.New("empty host")
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return fmt.Errorf("port %q: want 1..65535", port)
	}
	return nil
}

// nodeClockConfig checks the servers and the CA file and returns the
// trusted clock's configuration for a node (see healthConfig).
func nodeClockConfig(servers []string, caFile string, opts nodeClockOptions, log *slog.Logger) (trustedclock.Config, error) {
	if len(servers) == 0 {
		return trustedclock.Config{}, usagef("no NTS server: give --nts HOST:PORT (repeatable) with --nts-ca FILE")
	}
	for _, s := range servers {
		if err := checkServerAddr(s); err != nil {
			return trustedclock.Config{}, usagef("--nts %q: %v", s, err)
		}
	}
	if caFile == "" {
		return trustedclock.Config{}, usagef("--nts-ca: the NTS servers' trust anchors are required (the system pool is never used)")
	}
	hc, err := healthConfig(opts)
	if err != nil {
		return trustedclock.Config{}, err
	}
	roots, err := loadCAFile(caFile)
	if err != nil {
		return trustedclock.Config{}, err
	}
	// The loopback development server can be asked often; public servers
	// get the library's default retry period.
	var retry time.Duration
	if opts.DevServer {
		retry = 100 * time.Millisecond
	}
	return trustedclock.Config{
		Servers:     servers,
		Roots:       roots,
		Logger:      log,
		Development: opts.DevServer,
		Health:      hc,
		Retry:       retry,
	}, nil
}

// healthConfig is the clock-health policy of a node. With peers required,
// a verdict at most PeerMaxAge (10 s) old is needed at every reading, which
// already re-verifies the clock continuously; the periodic self-taint would
// only make every node refuse at the same moment until the next round, so
// it is set to the long no-peers period.
//
// A production node needs a build-time floor (NTS-KE certificates are
// checked at max(floor, estimate), never at an earlier, host-chosen time)
// and a minimum rate span in [minMinRateSpan, maxMinRateSpan]. A
// development node uses the floor when one is known and requires no rate
// span.
func healthConfig(opts nodeClockOptions) (tsclock.Config, error) {
	c := tsclock.Config{AllowDevPlatform: opts.DevPlatform, RequirePeers: opts.RequirePeers}
	if opts.RequirePeers {
		c.SelfTaintPeriod = trustedclock.NoPeersSelfTaintPeriod
	}
	if !opts.BuildFloor.Time.IsZero() {
		c.BuildFloor = opts.BuildFloor.Time.UnixNano()
	}
	if !opts.production() {
		return c, nil
	}
	if c.BuildFloor == 0 {
		return tsclock.Config{}, fmt.Errorf("%w unknown: a production node refuses to start without one, since until its first NTS sync it would check certificates against the host's clock; "+
			"build with `make build` (which links the commit time into the binary) or give --build-floor RFC3339", errBuildFloor)
	}
	if opts.MinRateSpan < minMinRateSpan || opts.MinRateSpan > maxMinRateSpan {
		return tsclock.Config{}, usagef("--min-rate-span %v: want %v to %v in production", opts.MinRateSpan, minMinRateSpan, maxMinRateSpan)
	}
	c.MinRateSpan = opts.MinRateSpan
	return c, nil
}

// floorText describes a build floor for logs.
func floorText(f buildFloor) string {
	if f.Time.IsZero() {
		return "unknown"
	}
	return f.Time.Format(time.RFC3339) + " (" + f.Source + ")"
}
