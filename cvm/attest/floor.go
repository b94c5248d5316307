package attest

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultMinimumTCB returns the default TCB floors per product line, a
// fresh map on every call. They are the lowest REPORTED_TCB values that
// CC-TSA accepts unless configured otherwise:
//
//   - Milan: bl=4 tee=0 snp=24 ucode=219, the Milan (CPUID 00a00f11)
//     minimum that Microsoft CCF's documentation sets since March 2026
//     (TCB_VERSION 0xdb18000000000004).
//   - Genoa: bl=10 tee=0 snp=27 ucode=88, a Genoa (CPUID 00a10f11) TCB
//     observed in a deployed Azure confidential-container join policy in
//     2026; SNP SPL 27 (0x1b) is the level at which the Linux kernel treats
//     Milan and Genoa firmware as carrying the AMD-SB-3023 fix.
//
// They come from public third-party material, not from AMD; operators must
// check them against AMD's current security bulletins and firmware release
// notes and raise them as AMD publishes fixes (docs/attestation.md).
func DefaultMinimumTCB() map[string]TCB {
	return map[string]TCB{
		"Milan": {BootLoader: 4, TEE: 0, SNP: 24, Microcode: 219},
		"Genoa": {BootLoader: 10, TEE: 0, SNP: 27, Microcode: 88},
	}
}

// TCBError reports a TCB component below the policy's floor. It wraps
// ErrTCB.
type TCBError struct {
	// Field is the report's TCB field that was checked: "reported"
	// (REPORTED_TCB) or "launch" (LAUNCH_TCB).
	Field string
	// ProductLine is the product line of the evidence ("Milan", "Genoa").
	ProductLine string
	// Component is "bootloader", "tee", "snp" or "microcode".
	Component string
	// Got is the component's value in the report; Min is the floor.
	Got, Min uint8
}

// Error names the field, the component and both values.
func (e *TCBError) Error() string {
	return fmt.Sprintf("%v: %s TCB %s SPL %d is below the minimum %d (%s floor)", ErrTCB, e.Field, e.Component, e.Got, e.Min, e.ProductLine)
}

// Unwrap returns ErrTCB.
func (e *TCBError) Unwrap() error { return ErrTCB }

// tcbComponents lists the components of t with their names, in
// TCB_VERSION order.
func (t TCB) components() [4]struct {
	name string
	v    uint8
} {
	return [4]struct {
		name string
		v    uint8
	}{{"bootloader", t.BootLoader}, {"tee", t.TEE}, {"snp", t.SNP}, {"microcode", t.Microcode}}
}

// checkFloor returns a *TCBError for the first component of t below min.
func checkFloor(field, line string, t, min TCB) error {
	got, want := t.components(), min.components()
	for i := range got {
		if got[i].v < want[i].v {
			return &TCBError{Field: field, ProductLine: line, Component: got[i].name, Got: got[i].v, Min: want[i].v}
		}
	}
	return nil
}

// maxTCB returns the component-wise maximum of a and b.
func maxTCB(a, b TCB) TCB {
	return TCB{BootLoader: max(a.BootLoader, b.BootLoader), TEE: max(a.TEE, b.TEE), SNP: max(a.SNP, b.SNP), Microcode: max(a.Microcode, b.Microcode)}
}

// Flag renders t in the syntax ParseTCB reads: "bl=4,tee=0,snp=24,ucode=219".
func (t TCB) Flag() string {
	return fmt.Sprintf("bl=%d,tee=%d,snp=%d,ucode=%d", t.BootLoader, t.TEE, t.SNP, t.Microcode)
}

// maxTCBText bounds the input of ParseTCB ("bl=127,tee=127,snp=127,ucode=255"
// is 33 bytes).
const maxTCBText = 64

// ParseTCB parses a TCB written as "bl=N,tee=N,snp=N,ucode=N": the four
// components exactly once each, in any order, separated by single commas,
// with decimal values without sign or leading zeros (bl, tee and snp 0-127,
// ucode 0-255). Anything else is ErrConfig.
func ParseTCB(s string) (TCB, error) {
	var t TCB
	if len(s) > maxTCBText {
		return t, fmt.Errorf("%w: TCB %q: longer than %d bytes", ErrConfig, s[:maxTCBText]+"…", maxTCBText)
	}
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return t, fmt.Errorf("%w: TCB %q: want bl=N,tee=N,snp=N,ucode=N", ErrConfig, s)
	}
	seen := map[string]bool{}
	for _, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return t, fmt.Errorf("%w: TCB %q: %q is not NAME=VALUE", ErrConfig, s, p)
		}
		if seen[k] {
			return t, fmt.Errorf("%w: TCB %q: %s given twice", ErrConfig, s, k)
		}
		seen[k] = true
		limit := uint64(127)
		var dst *uint8
		switch k {
		case "bl":
			dst = &t.BootLoader
		case "tee":
			dst = &t.TEE
		case "snp":
			dst = &t.SNP
		case "ucode":
			dst, limit = &t.Microcode, 255
		default:
			return t, fmt.Errorf("%w: TCB %q: unknown component %q (want bl, tee, snp, ucode)", ErrConfig, s, k)
		}
		if v == "" || (len(v) > 1 && v[0] == '0') || strings.TrimLeft(v, "0123456789") != "" {
			return t, fmt.Errorf("%w: TCB %q: %s=%q is not a decimal number", ErrConfig, s, k, v)
		}
		n, err := strconv.ParseUint(v, 10, 8)
		if err != nil || n > limit {
			return t, fmt.Errorf("%w: TCB %q: %s=%s out of range 0-%d", ErrConfig, s, k, v, limit)
		}
		*dst = uint8(n)
	}
	return t, nil
}
