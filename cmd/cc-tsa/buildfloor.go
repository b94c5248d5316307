package main

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// linkedBuildTime is the image's build-time floor, set at link time:
//
//	go build -ldflags "-X main.linkedBuildTime=2026-01-02T03:04:05Z" ./cc-tsa
//
// (the Makefile sets it to the commit time of HEAD, which keeps builds
// reproducible). It is part of the measured binary, so a host cannot change
// it. Empty when the build did not set it.
var linkedBuildTime string

// errBuildFloor is wrapped by every build-floor error.
var errBuildFloor = errors.New("build-time floor")

// buildFloor is the earliest time the node's clock may assume, and where it
// came from.
type buildFloor struct {
	Time   time.Time // zero when unknown
	Source string    // "link time", "vcs.time", "--build-floor"; "" when unknown
}

// parseFloorTime parses an RFC 3339 time in UTC ("…Z"), strictly: nothing
// before 2020 (no plausible build of this program) and no fractional
// seconds beyond nanoseconds.
func parseFloorTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 UTC, e.g. 2026-01-02T03:04:05Z: %w", s, err)
	}
	if _, off := t.Zone(); off != 0 || s[len(s)-1] != 'Z' {
		return time.Time{}, fmt.Errorf("%q: want UTC (a trailing Z)", s)
	}
	if t.Year() < 2020 {
		return time.Time{}, fmt.Errorf("%q: before 2020, not a build time of this program", s)
	}
	return t.UTC(), nil
}

// resolveBuildFloor combines the floors known to this binary: linked (the
// -X main.linkedBuildTime value), the vcs.time setting of info (the commit
// time the go command embeds when it stamps version control information),
// and flagValue (--build-floor). The result is the latest of them: every one
// is a lower bound on the true time, so the latest is the best bound, and
// the flag, which a host may control, can raise the floor but never lower
// the one embedded in the measured binary. A malformed value is an error
// (a linker value is a build defect, a flag value a usage error); no value
// at all yields a zero floor.
func resolveBuildFloor(flagValue, linked string, info *debug.BuildInfo) (buildFloor, error) {
	var f buildFloor
	raise := func(t time.Time, src string) {
		if t.After(f.Time) {
			f = buildFloor{Time: t, Source: src}
		}
	}
	if linked != "" {
		t, err := parseFloorTime(linked)
		if err != nil {
			return buildFloor{}, fmt.Errorf("%w linked into this binary: %v", errBuildFloor, err)
		}
		raise(t, "link time")
	}
	if info != nil {
		for _, s := range info.Settings {
			if s.Key != "vcs.time" {
				continue
			}
			t, err := parseFloorTime(s.Value)
			if err != nil {
				return buildFloor{}, fmt.Errorf("%w from the embedded vcs.time: %v", errBuildFloor, err)
			}
			raise(t, "vcs.time")
		}
	}
	if flagValue != "" {
		t, err := parseFloorTime(flagValue)
		if err != nil {
			return buildFloor{}, usageError{fmt.Errorf("--build-floor: %w: %v", errBuildFloor, err)}
		}
		raise(t, "--build-floor")
	}
	return f, nil
}

// embeddedBuildInfo returns the running binary's build information, or nil.
func embeddedBuildInfo() *debug.BuildInfo {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return info
}
