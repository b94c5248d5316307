// Package schnorr implements a Fiat–Shamir Schnorr proof of knowledge of a
// discrete logarithm over P-384, bound to a transcript context.
//
// A proof for X = x·G is (c, s) with K = k·G, c = H(ctx, X, K) and
// s = k + c·x; the verifier recomputes K = s·G − c·X. Proofs encode as
// c ‖ s (96 bytes), both strictly < n.
package schnorr

import (
	"crypto/subtle"
	"errors"
	"io"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/transcript"
)

// Size is the length of an encoded proof.
const Size = 2 * p384.ScalarSize

// ErrInvalid is returned when a proof does not verify or does not decode.
var ErrInvalid = errors.New("schnorr: invalid proof")

func challenge(purpose string, ctx *transcript.Context, X, K *p384.Point) []byte {
	t := transcript.New("schnorr/" + purpose).Context(ctx).Point(X).Point(K)
	return t.SumScalar().Bytes()
}

// Prove returns a proof of knowledge of x for X = x·G.
func Prove(rand io.Reader, purpose string, ctx *transcript.Context, x *p384.Scalar, X *p384.Point) ([]byte, error) {
	k, err := p384.NewScalar().RandomNonZero(rand)
	if err != nil {
		return nil, err
	}
	defer k.Zeroize()
	K := p384.BaseMul(k)
	cb := challenge(purpose, ctx, X, K)
	c, err := p384.NewScalar().SetBytes(cb)
	if err != nil {
		return nil, err
	}
	s := p384.NewScalar().Mul(c, x)
	s.Add(s, k)
	out := make([]byte, 0, Size)
	out = append(out, cb...)
	out = append(out, s.Bytes()...)
	return out, nil
}

// Verify checks a proof for X under the given purpose and context.
func Verify(purpose string, ctx *transcript.Context, X *p384.Point, proof []byte) error {
	if len(proof) != Size || p384.IsIdentity(X) {
		return ErrInvalid
	}
	c, err := p384.NewScalar().SetBytes(proof[:p384.ScalarSize])
	if err != nil {
		return ErrInvalid
	}
	s, err := p384.NewScalar().SetBytes(proof[p384.ScalarSize:])
	if err != nil {
		return ErrInvalid
	}
	K := p384.Sub(p384.BaseMul(s), p384.Mul(X, c))
	if p384.IsIdentity(K) {
		return ErrInvalid
	}
	if subtle.ConstantTimeCompare(challenge(purpose, ctx, X, K), proof[:p384.ScalarSize]) != 1 {
		return ErrInvalid
	}
	return nil
}
