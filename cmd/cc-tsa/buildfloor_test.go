package main

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/trustedclock"
	tsclock "github.com/cc-tsa/cc-tsa/timesync/clock"
)

func vcsInfo(vcsTime string) *debug.BuildInfo {
	return &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.time", Value: vcsTime}}}
}

func TestResolveBuildFloor(t *testing.T) {
	t1 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	t2 := t1.Add(time.Hour)
	for _, tc := range []struct {
		name         string
		flag, linked string
		info         *debug.BuildInfo
		want         time.Time
		src          string
	}{
		{"none", "", "", nil, time.Time{}, ""},
		{"no vcs stamp", "", "", &debug.BuildInfo{}, time.Time{}, ""},
		{"linked", "", "2026-01-02T03:04:05Z", nil, t1, "link time"},
		{"vcs.time", "", "", vcsInfo("2026-01-02T03:04:05Z"), t1, "vcs.time"},
		{"latest embedded wins", "", "2026-01-02T03:04:05Z", vcsInfo("2026-01-02T04:04:05Z"), t2, "vcs.time"},
		{"flag alone", "2026-01-02T03:04:05Z", "", nil, t1, "--build-floor"},
		{"flag raises", "2026-01-02T04:04:05Z", "2026-01-02T03:04:05Z", nil, t2, "--build-floor"},
		{"flag cannot lower", "2026-01-02T03:04:05Z", "2026-01-02T04:04:05Z", nil, t2, "link time"},
		{"fractional seconds", "2026-01-02T03:04:05.5Z", "", nil, t1.Add(500 * time.Millisecond), "--build-floor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := resolveBuildFloor(tc.flag, tc.linked, tc.info)
			if err != nil {
				t.Fatal(err)
			}
			if !f.Time.Equal(tc.want) || f.Source != tc.src {
				t.Fatalf("got %v from %q, want %v from %q", f.Time, f.Source, tc.want, tc.src)
			}
		})
	}
	for _, bad := range []string{"yesterday", "2026-01-02", "2026-01-02T03:04:05", "2026-01-02T03:04:05+00:00",
		"2026-01-02T04:04:05+01:00", "1999-12-31T23:59:59Z", "2026-13-02T03:04:05Z", " 2026-01-02T03:04:05Z"} {
		if _, err := resolveBuildFloor(bad, "", nil); !errors.Is(err, errBuildFloor) || !errors.As(err, new(usageError)) {
			t.Errorf("flag %q: %v, want a build-floor usage error", bad, err)
		}
		if _, err := resolveBuildFloor("", bad, nil); !errors.Is(err, errBuildFloor) || errors.As(err, new(usageError)) {
			t.Errorf("linked %q: %v, want a build-floor error", bad, err)
		}
		if _, err := resolveBuildFloor("", "", vcsInfo(bad)); !errors.Is(err, errBuildFloor) {
			t.Errorf("vcs.time %q: %v, want a build-floor error", bad, err)
		}
	}
}

func FuzzParseFloorTime(f *testing.F) {
	f.Add("2026-01-02T03:04:05Z")
	f.Add("2026-01-02T03:04:05.123456789Z")
	f.Add("2026-01-02T03:04:05+00:00")
	f.Add("2019-12-31T23:59:59Z")
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := parseFloorTime(s)
		if err != nil {
			return
		}
		if tm.Location() != time.UTC || tm.Year() < 2020 || !strings.HasSuffix(s, "Z") {
			t.Fatalf("%q accepted as %v", s, tm)
		}
		back, err := parseFloorTime(tm.Format(time.RFC3339Nano))
		if err != nil || !back.Equal(tm) {
			t.Fatalf("%q → %v does not round-trip: %v %v", s, tm, back, err)
		}
	})
}

var testFloor = buildFloor{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Source: "test"}

// A production node's health configuration has the build floor and the
// rate span; a production node without a floor, or with a rate span out of
// bounds, refuses to start; development nodes need neither.
func TestHealthConfigProduction(t *testing.T) {
	prod := nodeClockOptions{RequirePeers: true, BuildFloor: testFloor, MinRateSpan: defaultMinRateSpan}
	if !prod.production() {
		t.Fatal("options without dev server or dev platform are not production")
	}
	c, err := healthConfig(prod)
	if err != nil {
		t.Fatal(err)
	}
	if c.BuildFloor != testFloor.Time.UnixNano() || c.MinRateSpan != 15*time.Minute || c.AllowDevPlatform || !c.RequirePeers {
		t.Fatalf("production health config %+v", c)
	}
	noFloor := prod
	noFloor.BuildFloor = buildFloor{}
	if _, err := healthConfig(noFloor); !errors.Is(err, errBuildFloor) {
		t.Fatalf("production without a build floor: %v", err)
	}
	for _, span := range []time.Duration{0, -time.Minute, 59 * time.Second, 31 * time.Minute} {
		o := prod
		o.MinRateSpan = span
		if _, err := healthConfig(o); !errors.As(err, new(usageError)) {
			t.Errorf("rate span %v: %v, want a usage error", span, err)
		}
	}
	for _, dev := range []nodeClockOptions{
		{DevServer: true, DevPlatform: true, MinRateSpan: defaultMinRateSpan},
		{DevPlatform: true},
		{DevServer: true, BuildFloor: testFloor},
	} {
		if dev.production() {
			t.Fatalf("%+v is production", dev)
		}
		c, err := healthConfig(dev)
		if err != nil {
			t.Fatalf("%+v: %v", dev, err)
		}
		var wantFloor int64
		if !dev.BuildFloor.Time.IsZero() {
			wantFloor = dev.BuildFloor.Time.UnixNano()
		}
		if c.MinRateSpan != 0 || c.BuildFloor != wantFloor {
			t.Fatalf("dev health config %+v from %+v", c, dev)
		}
	}
}

// Before its first sync a production clock checks NTS-KE certificates at the
// build floor, not at the host's clock: a certificate that expired before
// the floor (but is valid by the host clock) is refused.
func TestProductionClockCertificateAtBuildFloor(t *testing.T) {
	addr, ca := devNTS(t) // self-signed, valid one day either side of the host's now
	for _, tc := range []struct {
		name    string
		floor   time.Time
		refused bool
	}{
		{"floor after the certificate", time.Now().Add(48 * time.Hour), true},
		{"floor before the certificate", time.Now().Add(-48 * time.Hour), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := nodeClockOptions{BuildFloor: buildFloor{Time: tc.floor.UTC(), Source: "test"}, MinRateSpan: defaultMinRateSpan}
			cfg, err := nodeClockConfig([]string{addr}, ca, opts, quietLog())
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Health.BuildFloor != tc.floor.UnixNano() || cfg.Health.MinRateSpan != defaultMinRateSpan {
				t.Fatalf("health config %+v", cfg.Health)
			}
			// Whatever the host platform, the sync itself runs: the
			// platform only decides whether the result is trusted.
			cfg.Platform = &tsclock.Platform{Clocksource: "test"}
			c, err := trustedclock.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := c.Health().CertTime(); got.UnixNano() < tc.floor.UnixNano() {
				t.Fatalf("certificate time %v before the floor %v", got, tc.floor)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = c.SyncOnce(ctx)
			var ci x509.CertificateInvalidError
			if tc.refused {
				if !errors.As(err, &ci) || ci.Reason != x509.Expired {
					t.Fatalf("certificate expired at the floor accepted or wrong error: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("certificate valid at the host clock refused: %v", err)
			}
		})
	}
}

// A production node (threshold oracle with hardware attestation) refuses
// to start without a build floor, and with a malformed --build-floor.
func TestNodeProductionNeedsBuildFloor(t *testing.T) {
	if linkedBuildTime != "" {
		t.Skip("this test binary has a linked build time")
	}
	if f, _ := resolveBuildFloor("", "", embeddedBuildInfo()); !f.Time.IsZero() {
		t.Skip("this test binary has an embedded vcs.time")
	}
	addr, ca := devNTS(t)
	base := []string{"--listen", "unix:" + t.TempDir() + "/n.sock", "--id", "1", "--nodes", "3", "--threshold", "2",
		"--attest", "sev-snp", "--measurement", strings.Repeat("ab", 48), "--nts", addr, "--nts-ca", ca}
	err := runNode(context.Background(), base, io.Discard, io.Discard)
	if !errors.Is(err, errBuildFloor) {
		t.Fatalf("production node without a build floor: %v", err)
	}
	err = runNode(context.Background(), append(base, "--build-floor", "last tuesday"), io.Discard, io.Discard)
	if !errors.Is(err, errBuildFloor) || !errors.As(err, new(usageError)) {
		t.Fatalf("malformed --build-floor: %v", err)
	}
	err = runNode(context.Background(), append(base, "--build-floor", "2026-01-02T03:04:05Z", "--min-rate-span", "10s"), io.Discard, io.Discard)
	if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "--min-rate-span") {
		t.Fatalf("--min-rate-span 10s: %v", err)
	}
}
