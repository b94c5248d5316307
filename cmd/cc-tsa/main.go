// Command cc-tsa is the CC-TSA time-stamp authority: the signing oracle
// (node), the HTTP service (serve), a self-contained development TSA (dev)
// and the client tools (request, verify, bench).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
)

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"dev":      {"start a local 3-of-5 TSA: oracle processes, NTS, ceremony, development CA, HTTP", runDev},
		"serve":    {"serve RFC 3161 over HTTP, signing with running oracles", runServe},
		"node":     {"run one signing oracle (node replace --id N: replace a dead oracle of cc-tsa dev; node refresh: refresh the ECDSA shares of every member)", runNode},
		"request":  {"request a time-stamp token", runRequest},
		"verify":   {"verify a time-stamp response or token", runVerify},
		"bench":    {"load a TSA and report tokens/s and latency percentiles", runBench},
		"audit":    {"verify the audit log (audit verify)", runAudit},
		"attest":   {"check every oracle of a TSA against its certificate, CA and ceremony record, with fresh attestation", runAttest},
		"ceremony": {"run the key ceremony on running oracles and write the CSRs", runCeremony},
		"time":     {"measure a server's clock over NTS (time probe)", runTime},
	}
}

// usageError marks errors caused by the command line; they exit with 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func main() {
	// Signing rounds move hundreds of kilobytes per message; collect
	// garbage less often than Go's default unless the operator chose.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "cc-tsa: unknown command %q\n\n", args[0])
		printUsage(stderr, cmds)
		return 2
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "cc-tsa %s: %v\n", args[0], err)
		return 2
	}
	fmt.Fprintf(stderr, "cc-tsa %s: %v\n", args[0], err)
	return 1
}

func printUsage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: cc-tsa COMMAND [flags]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'cc-tsa COMMAND -h' for a command's flags.")
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("cc-tsa "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args and refuses positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() != 0 {
		return usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return nil
}

// newLogger returns a text logger on w at the given level name.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
