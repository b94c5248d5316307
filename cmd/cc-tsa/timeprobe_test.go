package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/clock"
	tsclock "github.com/cc-tsa/cc-tsa/timesync/clock"
	"github.com/cc-tsa/cc-tsa/timesync/nts"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func devNTS(t *testing.T) (addr, ca string) {
	t.Helper()
	addr, ca, stop, err := startDevNTS(context.Background(), t.TempDir(), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return addr, ca
}

func TestTimeProbeJSON(t *testing.T) {
	addr, ca := devNTS(t)
	var out, errb bytes.Buffer
	if err := runTime(context.Background(), []string{"probe", "--server", addr, "--ca", ca, "--json"}, &out, &errb); err != nil {
		t.Fatalf("probe: %v (%s)", err, errb.String())
	}
	var raw map[string]any
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	for _, k := range []string{"offset_ns", "delay_ns", "uncertainty_ns", "server", "stratum"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, out.String())
		}
	}
	var m nts.Measurement
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	// The dev server serves this machine's clock, so the true offset is 0 and
	// must lie within offset ± uncertainty (T1 ≤ T2 ≤ T3 ≤ T4 on one clock).
	if m.Server != addr || m.DelayNS < 0 || m.UncertaintyNS < m.DelayNS/2 || abs(m.OffsetNS) > m.UncertaintyNS || m.Stratum == 0 {
		t.Fatalf("measurement %+v", m)
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestTimeProbeText(t *testing.T) {
	addr, ca := devNTS(t)
	var out bytes.Buffer
	if err := runTime(context.Background(), []string{"probe", "--server", addr, "--ca", ca}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"offset ", "server minus local", "delay ", "uncertainty  ±", addr, "AEAD_AES_SIV_CMAC_256"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestTimeProbeUnauthenticatedFails(t *testing.T) {
	addr, _ := devNTS(t)
	_, otherCA := devNTS(t) // another dev server's certificate: not this server's
	var out bytes.Buffer
	err := runTime(context.Background(), []string{"probe", "--server", addr, "--ca", otherCA, "--json"}, &out, io.Discard)
	if err == nil || errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "could not be authenticated") {
		t.Fatalf("probe with the wrong CA: %v", err)
	}
	if out.Len() != 0 {
		t.Fatalf("output despite failure: %s", out.String())
	}
	// Through the command dispatcher the failure is exit status 1.
	if code := run(context.Background(), []string{"time", "probe", "--server", addr, "--ca", otherCA}, io.Discard, io.Discard); code == 0 && hasTimeCommand() {
		t.Fatal("exit status 0 for an unauthenticated server")
	}
	// A server that does not answer at all.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	if err := runTime(context.Background(), []string{"probe", "--server", dead, "--ca", otherCA}, io.Discard, io.Discard); err == nil || errors.As(err, new(usageError)) {
		t.Fatalf("probe of a closed port: %v", err)
	}
}

// hasTimeCommand reports whether main.go's command table has "time" yet.
func hasTimeCommand() bool { _, ok := commands()["time"]; return ok }

func TestTimeProbeUsage(t *testing.T) {
	_, ca := devNTS(t)
	bad := filepath.Join(t.TempDir(), "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		nil,
		{"frobnicate"},
		{"probe"},
		{"probe", "--ca", ca},
		{"probe", "--server", "127.0.0.1", "--ca", ca},
		{"probe", "--server", "127.0.0.1:0", "--ca", ca},
		{"probe", "--server", "127.0.0.1:4460"},
		{"probe", "--server", "127.0.0.1:4460", "--ca", ca, "--timeout", "0s"},
		{"probe", "--server", "127.0.0.1:4460", "--ca", ca, "extra"},
	} {
		err := runTime(context.Background(), args, io.Discard, io.Discard)
		if !errors.As(err, new(usageError)) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	if err := runTime(context.Background(), []string{"probe", "--server", "127.0.0.1:4460", "--ca", bad}, io.Discard, io.Discard); err == nil || !errors.Is(err, errCAPEM) {
		t.Errorf("bad CA file: %v", err)
	}
	if err := runTime(context.Background(), []string{"--help"}, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
}

func TestNewNodeClockDev(t *testing.T) {
	addr, ca := devNTS(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := newNodeClock(ctx, []string{addr}, ca, nodeClockOptions{DevServer: true, DevPlatform: true}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	var _ clock.Clock = c
	t0 := time.Now()
	r := c.Now()
	t1 := time.Now()
	if clock.Check(r) != nil || !strings.Contains(r.Source, nts.DevLabel) || !strings.Contains(r.Source, addr) {
		t.Fatalf("reading %+v", r)
	}
	if r.Time.Before(t0.Add(-r.Accuracy)) || r.Time.After(t1.Add(r.Accuracy)) {
		t.Fatalf("reading %v ± %v does not contain host time [%v, %v]", r.Time, r.Accuracy, t0, t1)
	}
	// The sync loop lives as long as ctx; afterwards the clock fails closed.
	cancel()
	// WaitTrusted returns nil while the clock is trusted and ErrClosed once
	// the loop has stopped and closed it.
	for c.WaitTrusted(context.Background()) == nil {
		time.Sleep(time.Millisecond)
	}
	if r := c.Now(); r.Trusted {
		t.Fatalf("clock trusted after its sync loop stopped: %+v", r)
	}
}

func TestNewNodeClockRefuses(t *testing.T) {
	addr, _ := devNTS(t)
	_, otherCA := devNTS(t)
	ctx := context.Background()
	opts := nodeClockOptions{DevServer: true, DevPlatform: true, Wait: 300 * time.Millisecond}
	_, err := newNodeClock(ctx, []string{addr}, otherCA, opts, quietLog())
	if err == nil || !strings.Contains(err.Error(), "no trusted time") || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("foreign CA: %v", err)
	}
	for _, tc := range []struct {
		servers []string
		ca      string
	}{{nil, otherCA}, {[]string{addr}, ""}, {[]string{"localhost"}, otherCA}, {[]string{":4460"}, otherCA}} {
		if _, err := newNodeClock(ctx, tc.servers, tc.ca, opts, quietLog()); !errors.As(err, new(usageError)) {
			t.Errorf("%v %q: %v, want a usage error", tc.servers, tc.ca, err)
		}
	}
	// Without DevPlatform, a machine that is not an SEV-SNP guest with
	// SecureTSC gets no trusted time.
	if tsclock.CheckPlatform(tsclock.HostProbe{}).Sound() {
		t.Skip("this machine is an SEV-SNP guest with SecureTSC")
	}
	addr2, ca2 := devNTS(t)
	prod := nodeClockOptions{Wait: 300 * time.Millisecond, BuildFloor: testFloor, MinRateSpan: defaultMinRateSpan}
	_, err = newNodeClock(ctx, []string{addr2}, ca2, prod, quietLog())
	if err == nil || !strings.Contains(err.Error(), "SEV-SNP") {
		t.Fatalf("production clock on a development machine: %v", err)
	}
}

func TestNTSFlags(t *testing.T) {
	fs := newFlagSet("node", io.Discard)
	f := addNTSFlags(fs)
	if err := parseFlags(fs, []string{"--nts", "a:1", "--nts", "b:2", "--nts-ca", "ca.pem", "--nts-dev"}); err != nil {
		t.Fatal(err)
	}
	if len(f.servers) != 2 || f.servers[1] != "b:2" || f.caFile != "ca.pem" || !f.dev {
		t.Fatalf("%+v", f)
	}
}

func TestParseCAPEM(t *testing.T) {
	_, caPath := devNTS(t)
	good, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(good)
	for name, in := range map[string][]byte{
		"one":                 good,
		"two, whitespace":     append(append([]byte("\n  \r\n"), good...), append([]byte("\n\n"), good...)...),
		"CRLF and no last NL": bytes.TrimRight(bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n")), "\r\n"),
	} {
		if _, err := parseCAPEM(in); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	withHeader := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"A": "b"}, Bytes: blk.Bytes})
	for name, in := range map[string][]byte{
		"empty":         nil,
		"whitespace":    []byte(" \n"),
		"leading text":  append([]byte("x\n"), good...),
		"trailing text": append(append([]byte(nil), good...), "x"...),
		"other type":    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: blk.Bytes}),
		"headers":       withHeader,
		"bad DER":       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: blk.Bytes[:len(blk.Bytes)-1]}),
		"skipped BEGIN": append([]byte("-----BEGIN X-----\nzz\n"), good...),
		"truncated":     good[:len(good)/2],
		"too many":      bytes.Repeat(good, 65),
		"too large":     append(append([]byte(nil), good...), bytes.Repeat([]byte(" "), maxCAFile)...),
	} {
		if _, err := parseCAPEM(in); !errors.Is(err, errCAPEM) {
			t.Errorf("%s: accepted or wrong error: %v", name, err)
		}
	}
}

func FuzzParseCAPEM(f *testing.F) {
	d, err := nts.StartDevServer("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	good := d.CAPEM
	d.Close()
	f.Add(good)
	f.Add(append(append([]byte(nil), good...), good...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pool, err := parseCAPEM(b)
		if (pool == nil) == (err == nil) {
			t.Fatalf("pool %v, err %v", pool, err)
		}
		if err != nil && !errors.Is(err, errCAPEM) {
			t.Fatalf("untyped error %v", err)
		}
		if err == nil && len(bytes.TrimSpace(b)) == 0 {
			t.Fatal("empty input accepted")
		}
	})
}
