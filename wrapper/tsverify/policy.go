package tsverify

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
)

// Policy is a TSA policy this package knows.
type Policy int

// The policies of CC-TSA tokens (docs/token-format.md).
const (
	// PolicyHybrid (.2.1) requires both halves: the outer ECDSA P-384
	// token and the ML-DSA-65 token it carries, bound by the SHA-512 hash
	// in the ECDSA signed attributes.
	PolicyHybrid Policy = iota + 1
	// PolicyMLDSA (.2.2) requires an ML-DSA-65 token, and nothing else.
	PolicyMLDSA
)

// String returns the policy's dotted OID and a short description.
func (p Policy) String() string {
	switch p {
	case PolicyHybrid:
		return tst.OIDPolicyHybrid + " (hybrid ECDSA P-384 + ML-DSA-65)"
	case PolicyMLDSA:
		return tst.OIDPolicyMLDSA + " (ML-DSA-65 only)"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// Errors wrapped by a *PolicyError.
var (
	// ErrUnknownPolicy: the token's policy is none of this TSA's.
	ErrUnknownPolicy = errors.New("unknown TSA policy")
	// ErrMissingPQ: the ML-DSA-65 half the policy requires is absent.
	ErrMissingPQ = errors.New("the ML-DSA-65 signature the policy requires is absent")
	// ErrMissingClassical: the ECDSA P-384 half the hybrid policy requires
	// is absent.
	ErrMissingClassical = errors.New("the ECDSA P-384 signature the hybrid policy requires is absent")
	// ErrPolicyForm: the token's structure is not the one its policy
	// defines.
	ErrPolicyForm = errors.New("the token's form does not match its policy")
)

// PolicyError reports a token that does not carry what its policy requires.
type PolicyError struct {
	Policy string // the token's policy, dotted (hex DER if it cannot be decoded)
	Err    error  // ErrUnknownPolicy, ErrMissingPQ, ErrMissingClassical or ErrPolicyForm
	Detail string
}

// Error names the policy, the reason and what to do about it.
func (e *PolicyError) Error() string {
	s := fmt.Sprintf("tsverify: policy %s: %v", e.Policy, e.Err)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns the reason.
func (e *PolicyError) Unwrap() error { return e.Err }

// policyOf returns the policy whose DER OID is der, or 0.
func policyOf(der []byte) Policy {
	switch {
	case bytes.Equal(der, tst.OIDPolicyHybridDER):
		return PolicyHybrid
	case bytes.Equal(der, tst.OIDPolicyMLDSAOnlyDER):
		return PolicyMLDSA
	}
	return 0
}

// dottedOID renders a DER OID for messages.
func dottedOID(der []byte) string {
	var oid asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(der, &oid); err == nil && len(rest) == 0 {
		return oid.String()
	}
	return fmt.Sprintf("%x", der)
}

// checkPolicy checks that the verified halves in res are what the token's
// policy requires, given the caller's explicit opt-outs.
func checkPolicy(res *Result, opts *Options) error {
	pe := func(err error, detail string) error {
		return &PolicyError{Policy: res.Policy.String(), Err: err, Detail: detail}
	}
	switch res.Policy {
	case PolicyHybrid:
		switch {
		case res.ECDSA && res.MLDSA:
			return nil
		case res.ECDSA && opts.ClassicalOnly:
			res.ClassicalOnly = true
			return nil
		case res.ECDSA:
			return pe(ErrMissingPQ, "the token carries the ECDSA P-384 half only; accepting it gives up post-quantum protection and needs an explicit opt-out (ClassicalOnly, cc-tsa verify --classical-only)")
		case res.MLDSA && opts.PQOnly:
			res.PQOnly = true
			return nil
		case res.MLDSA:
			return pe(ErrMissingClassical, "this is the ML-DSA-65 token of a hybrid token on its own; verify the complete token, or opt out explicitly (PQOnly, cc-tsa verify --pq-only)")
		}
	case PolicyMLDSA:
		switch {
		case res.ECDSA && res.MLDSA:
			return pe(ErrPolicyForm, "an ML-DSA-only token is a bare ML-DSA-65 token, not an ECDSA token carrying one")
		case res.MLDSA:
			return nil
		case res.ECDSA:
			return pe(ErrMissingPQ, "the token is signed with ECDSA P-384 only, which this policy never uses")
		}
	}
	return pe(ErrPolicyForm, "no signature verified")
}
