package tsverify_test

import (
	"errors"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify/tsverifytest"
)

func newMinter(t *testing.T, cfg tsverifytest.Config) *tsverifytest.Minter {
	t.Helper()
	m, err := tsverifytest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mint(t *testing.T, m *tsverifytest.Minter, s *tsverifytest.Spec) []byte {
	t.Helper()
	if s.Data == nil {
		s.Data = []byte("time-stamped data")
	}
	tok, err := m.Token(s)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// wantPolicyError checks that err is a *tsverify.PolicyError wrapping want.
func wantPolicyError(t *testing.T, what string, err, want error) {
	t.Helper()
	var pe *tsverify.PolicyError
	if !errors.As(err, &pe) || !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want a *PolicyError wrapping %v", what, err, want)
	}
}

func TestPolicyDecidesWhatMustBePresent(t *testing.T) {
	m := newMinter(t, tsverifytest.Config{})
	data := []byte("time-stamped data")
	opts := func(mod func(*tsverify.Options)) *tsverify.Options {
		o := m.Options()
		o.Data = data
		if mod != nil {
			mod(o)
		}
		return o
	}
	classical := func(o *tsverify.Options) { o.ClassicalOnly = true }
	pqOnly := func(o *tsverify.Options) { o.PQOnly = true }
	legacyPQ := func(o *tsverify.Options) { o.RequirePQ = true }

	hybrid := mint(t, m, &tsverifytest.Spec{Shape: tsverifytest.Hybrid, Data: data})
	for _, mod := range []func(*tsverify.Options){nil, legacyPQ, classical, pqOnly} {
		res, err := tsverify.VerifyToken(hybrid, opts(mod))
		if err != nil || !res.ECDSA || !res.MLDSA || res.Policy != tsverify.PolicyHybrid {
			t.Fatalf("complete hybrid token: %v", err)
		}
	}

	// The ECDSA half alone under the hybrid policy: refused unless the
	// caller explicitly gives up post-quantum protection.
	ecdsaOnly := mint(t, m, &tsverifytest.Spec{Shape: tsverifytest.ECDSAOnly, Data: data})
	_, err := tsverify.VerifyToken(ecdsaOnly, opts(nil))
	wantPolicyError(t, "ECDSA-only hybrid token, defaults", err, tsverify.ErrMissingPQ)
	_, err = tsverify.VerifyToken(ecdsaOnly, opts(legacyPQ))
	wantPolicyError(t, "ECDSA-only hybrid token, RequirePQ", err, tsverify.ErrMissingPQ)
	_, err = tsverify.VerifyToken(ecdsaOnly, opts(pqOnly))
	wantPolicyError(t, "ECDSA-only hybrid token, PQOnly", err, tsverify.ErrMissingPQ)
	res, err := tsverify.VerifyToken(ecdsaOnly, opts(classical))
	if err != nil || !res.ECDSA || res.MLDSA || !res.ClassicalOnly {
		t.Fatalf("ECDSA-only hybrid token with ClassicalOnly: %v", err)
	}
	if _, err := tsverify.VerifyToken(ecdsaOnly, opts(func(o *tsverify.Options) { o.ClassicalOnly, o.RequirePQ = true, true })); err == nil {
		t.Fatal("ClassicalOnly together with RequirePQ accepted")
	}

	// The ML-DSA half alone under the hybrid policy.
	inner := mint(t, m, &tsverifytest.Spec{Shape: tsverifytest.MLDSAOnly, Data: data})
	_, err = tsverify.VerifyToken(inner, opts(nil))
	wantPolicyError(t, "ML-DSA token of a hybrid token on its own, defaults", err, tsverify.ErrMissingClassical)
	_, err = tsverify.VerifyToken(inner, opts(classical))
	wantPolicyError(t, "ML-DSA token of a hybrid token on its own, ClassicalOnly", err, tsverify.ErrMissingClassical)
	if res, err := tsverify.VerifyToken(inner, opts(pqOnly)); err != nil || res.ECDSA || !res.MLDSA || !res.PQOnly {
		t.Fatalf("inner token alone with PQOnly: %v", err)
	}

	// Stripping the binding (an ECDSA forger re-signs the outer attributes
	// without the hash) is refused, with or without the opt-out.
	unbound := mint(t, m, &tsverifytest.Spec{Shape: tsverifytest.Unbound, Data: data})
	for _, mod := range []func(*tsverify.Options){nil, classical} {
		if _, err := tsverify.VerifyToken(unbound, opts(mod)); err == nil {
			t.Fatal("ML-DSA token without the binding accepted")
		}
	}

	// The ML-DSA-only policy: the ML-DSA token and nothing else.
	mldsaPol := tst.OIDPolicyMLDSA
	if res, err := tsverify.VerifyToken(mint(t, m, &tsverifytest.Spec{Shape: tsverifytest.MLDSAOnly, Policy: mldsaPol, Data: data}), opts(nil)); err != nil || !res.MLDSA || res.Policy != tsverify.PolicyMLDSA {
		t.Fatalf("ML-DSA-only token: %v", err)
	}
	noPQ := mint(t, m, &tsverifytest.Spec{Shape: tsverifytest.ECDSAOnly, Policy: mldsaPol, Data: data})
	for _, mod := range []func(*tsverify.Options){nil, classical} {
		_, err = tsverify.VerifyToken(noPQ, opts(mod))
		wantPolicyError(t, "ML-DSA-only policy without an ML-DSA token", err, tsverify.ErrMissingPQ)
	}
	wrapped := mint(t, m, &tsverifytest.Spec{Shape: tsverifytest.Hybrid, Policy: mldsaPol, Data: data})
	_, err = tsverify.VerifyToken(wrapped, opts(nil))
	wantPolicyError(t, "ML-DSA-only policy in a hybrid token", err, tsverify.ErrPolicyForm)

	// A policy this TSA does not define.
	for _, shape := range []tsverifytest.Shape{tsverifytest.Hybrid, tsverifytest.MLDSAOnly} {
		tok := mint(t, m, &tsverifytest.Spec{Shape: shape, Policy: "1.2.3.4", Data: data})
		for _, mod := range []func(*tsverify.Options){nil, classical, pqOnly} {
			_, err = tsverify.VerifyToken(tok, opts(mod))
			wantPolicyError(t, "unknown policy", err, tsverify.ErrUnknownPolicy)
		}
	}
}
