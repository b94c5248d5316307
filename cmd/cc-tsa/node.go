package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/clock"
	"github.com/cc-tsa/cc-tsa/cvm/oracle"
	"github.com/cc-tsa/cc-tsa/cvm/transport"
	"github.com/cc-tsa/cc-tsa/cvm/tst"
)

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("node", stderr)
	listen := fs.String("listen", "unix:cc-tsa-node.sock", "where to listen: unix:PATH (development) or vsock:PORT (in a CVM)")
	cn := fs.String("tsa-cn", "CC-TSA development TSA (single oracle, NOT THRESHOLD)", "common name of the TSA, written into every token")
	org := fs.String("tsa-org", "CC-TSA", "organisation of the TSA, written into every token")
	accuracy := fs.Duration("host-clock-accuracy", time.Second, "accuracy claimed for the unverified host clock")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	if *accuracy <= 0 || *accuracy > time.Hour {
		return usagef("--host-clock-accuracy %v: want a positive duration of at most an hour", *accuracy)
	}
	name, err := tst.EncodeName([][2]string{{"O", *org}, {"CN", *cn}})
	if err != nil {
		return usagef("TSA name: %v", err)
	}
	o, err := oracle.New(oracle.Config{TSAName: name, Clock: clock.Host{Accuracy: *accuracy}, Logger: log})
	if err != nil {
		return err
	}
	l, err := transport.Listen(*listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *listen, err)
	}
	log.Info("oracle listening", "addr", *listen, "clock", clock.HostSource)
	err = o.Serve(ctx, l)
	o.Stop()
	log.Info("oracle stopped")
	return err
}
