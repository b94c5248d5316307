package tsverify

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// canonicalGeneralizedTime is the one DER GeneralizedTime encoding of t
// (X.690 §11.7): UTC, seconds present, a fraction only when non-zero and
// without trailing zeros.
func canonicalGeneralizedTime(t time.Time) string {
	s := t.UTC().Format("20060102150405")
	if ns := t.Nanosecond(); ns != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%09d", ns), "0")
	}
	return s + "Z"
}

func TestGeneralizedTimeStrictDER(t *testing.T) {
	good := map[string]time.Time{
		"20260102030405Z":           time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		"20260102030405.5Z":         time.Date(2026, 1, 2, 3, 4, 5, 500_000_000, time.UTC),
		"20260102030405.000001Z":    time.Date(2026, 1, 2, 3, 4, 5, 1000, time.UTC),
		"20260102030405.123456789Z": time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC),
		"20240229235959.9Z":         time.Date(2024, 2, 29, 23, 59, 59, 900_000_000, time.UTC),
	}
	for s, want := range good {
		got, err := parseGeneralizedTime(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: got %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{
		"20260102030405.+5Z",  // a sign in the fraction
		"20260102030405.-5Z",  //
		"20260102030405.50Z",  // trailing zero
		"20260102030405.0Z",   // zero fraction must be omitted
		"20260102030405.Z",    // empty fraction
		"20260102030405,5Z",   // comma
		"20260102030405",      // no Z
		"20260102030405+0000", // offset
		"20260102030405.5+0100",
		"202601020304Z",              // no seconds
		"2026010203Z",                // no minutes
		"20260102030405ZZ",           //
		"20260102030405.1234567891Z", // more than nanoseconds
		"+0260102030405Z",            // sign in the year
		"2026-102030405Z",            //
		"20261302030405Z",            // month 13
		"20260002030405Z",            // month 0
		"20260100030405Z",            // day 0
		"20260230030405Z",            // 30 February
		"20250229030405Z",            // 29 February, not a leap year
		"20260102240000Z",            // hour 24
		"20260102036005Z",            // minute 60
		"20260102030460Z",            // second 60
		" 0260102030405Z",            //
		"2026010203040 Z",            //
		"20260102030405.5 Z",         //
		"２0260102030405Z",            // a non-ASCII digit
		"",
	} {
		if got, err := parseGeneralizedTime(s); err == nil {
			t.Errorf("%q accepted as %v", s, got)
		}
	}
}

// FuzzParseGeneralizedTime: whatever the parser accepts is the one DER
// encoding of the time it returns.
func FuzzParseGeneralizedTime(f *testing.F) {
	for _, s := range []string{"20260102030405Z", "20260102030405.5Z", "20260102030405.123456789Z",
		"20260102030405.+5Z", "20260102030405.50Z", "20260102030405.Z", "20240229235959Z", "20250229000000Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseGeneralizedTime(s)
		if err != nil {
			return
		}
		if c := canonicalGeneralizedTime(got); c != s {
			t.Fatalf("%q accepted as %v, whose DER encoding is %q", s, got, c)
		}
	})
}
