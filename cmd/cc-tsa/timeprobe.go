package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/cc-tsa/cc-tsa/timesync/nts"
)

// runTime implements `cc-tsa time SUBCOMMAND`; the only subcommand is probe.
func runTime(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "usage: cc-tsa time probe --server HOST:PORT --ca FILE [--json] [--timeout D]"
	if len(args) == 0 {
		return usagef("%s", usage)
	}
	switch args[0] {
	case "probe":
		return runTimeProbe(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, usage)
		fmt.Fprintln(stderr, "\nprobe: one NTS-authenticated (RFC 8915) measurement of a server's clock against this machine's.")
		return flag.ErrHelp
	}
	return usagef("unknown subcommand %q; %s", args[0], usage)
}

// runTimeProbe implements `cc-tsa time probe`: NTS-KE with the server,
// trusting only the certificates in --ca, then one authenticated NTP
// exchange. It fails (exit 1) when the server cannot be authenticated or
// measured.
func runTimeProbe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("time probe", stderr)
	server := fs.String("server", "", "NTS-KE server HOST:PORT (port 4460 is the standard)")
	caFile := fs.String("ca", "", "PEM file with the only CA certificates trusted for the server")
	asJSON := fs.Bool("json", false, "print the measurement as JSON (offset_ns = server minus local, delay_ns, uncertainty_ns, ...)")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long (NTS-KE plus NTP exchange)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *server == "" {
		return usagef("--server HOST:PORT is required")
	}
	if err := checkServerAddr(*server); err != nil {
		return usagef("--server %q: %v", *server, err)
	}
	if *caFile == "" {
		return usagef("--ca FILE is required (the system trust store is never used)")
	}
	if *timeout <= 0 || *timeout > 10*time.Minute {
		return usagef("--timeout %v: want a positive duration of at most 10m", *timeout)
	}
	roots, err := loadCAFile(*caFile)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	// Outside the CVM the host clock is the local clock being measured and
	// the time against which the server's certificate is checked.
	m, err := nts.Probe(pctx, *server, roots, time.Now)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no authenticated answer within %v: %w", *timeout, err)
		}
		return fmt.Errorf("NTS server %s could not be authenticated or measured: %w", *server, err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	}
	_, err = fmt.Fprintf(stdout, "server       %s (NTP %s), NTS-authenticated (%s)\n"+
		"offset       %s (server minus local)\n"+
		"delay        %s\n"+
		"uncertainty  ±%s (half the delay plus the server's root delay/2 and dispersion)\n"+
		"stratum      %d\n",
		m.Server, m.NTPServer, m.AEAD, signed(time.Duration(m.OffsetNS)), time.Duration(m.DelayNS),
		time.Duration(m.UncertaintyNS), m.Stratum)
	return err
}

// signed formats d with an explicit sign.
func signed(d time.Duration) string {
	if d >= 0 {
		return "+" + d.String()
	}
	return d.String()
}
