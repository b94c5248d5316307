package mldsa

import (
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

func circlPK(t testing.TB, pk *PublicKey) *mldsa65.PublicKey {
	t.Helper()
	var cpk mldsa65.PublicKey
	if err := cpk.UnmarshalBinary(pk.Bytes()); err != nil {
		t.Fatal(err)
	}
	return &cpk
}

// TestSign3of5AllSubsets signs with every 3-subset of 5 parties and checks
// each signature with circl's mldsa65.Verify.
func TestSign3of5AllSubsets(t *testing.T) {
	pk, shares, err := GenerateKey(rand.Reader, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	cpk := circlPK(t, pk)
	total := 0
	for i, signers := range setsOf(3, 5) {
		msg := []byte(fmt.Sprintf("message %d for %v", i, signers))
		var ctx []byte
		if i%2 == 1 {
			ctx = []byte("a context string")
		}
		sig, n := sign(t, pk, shares, signers, msg, ctx)
		total += n
		if len(sig) != mldsa65.SignatureSize {
			t.Fatalf("signature length %d", len(sig))
		}
		if !mldsa65.Verify(cpk, msg, ctx, sig) {
			t.Fatalf("circl rejects the signature of %v", signers)
		}
		if mldsa65.Verify(cpk, append(msg, 0), ctx, sig) {
			t.Fatal("circl accepts the signature for another message")
		}
	}
	t.Logf("10 signatures in %d attempts", total)
}

// TestSignAllShapes signs once for every (T, N) of the table with a random
// signer set (the heavy shapes only without -short).
func TestSignAllShapes(t *testing.T) {
	for _, row := range paramTable {
		if testing.Short() && row.k > 100 {
			continue
		}
		t.Run(fmt.Sprintf("%d-of-%d", row.t, row.n), func(t *testing.T) {
			pk, shares, err := GenerateKey(rand.Reader, row.t, row.n)
			if err != nil {
				t.Fatal(err)
			}
			sets := setsOf(row.t, row.n)
			var b [1]byte
			rand.Read(b[:])
			signers := sets[int(b[0])%len(sets)]
			msg := []byte("shape test")
			sig, n := sign(t, pk, shares, signers, msg, nil)
			if !mldsa65.Verify(circlPK(t, pk), msg, nil, sig) {
				t.Fatalf("circl rejects the signature of %v", signers)
			}
			t.Logf("signers %v: %d attempts", signers, n)
		})
	}
}

// TestAttemptsDistribution signs 40 times with 3-of-5 and checks that the
// mean number of attempts is below 3 (the parameters promise a success
// probability of at least 1/2 per attempt, i.e. a mean of at most 2; a mean
// of 3 or more over 40 signatures has probability < 10^-4 under that
// promise). It logs the histogram.
func TestAttemptsDistribution(t *testing.T) {
	if testing.Short() {
		t.Skip("40 signatures; skipped with -short")
	}
	pk, shares, err := GenerateKey(rand.Reader, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	hist := map[int]int{}
	total := 0
	const sigs = 40
	for i := 0; i < sigs; i++ {
		_, n := sign(t, pk, shares, []int{0, 1, 3}, []byte(fmt.Sprint(i)), nil)
		hist[n]++
		total += n
	}
	mean := float64(total) / sigs
	t.Logf("attempts per signature: mean %.2f, histogram %v", mean, hist)
	if mean >= 3 {
		t.Fatalf("mean attempts %.2f ≥ 3", mean)
	}
}
