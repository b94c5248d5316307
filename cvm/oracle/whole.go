package oracle

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"
	"math/big"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// wholeKeys are the keys of the single-oracle development mode.
type wholeKeys struct {
	ecdsa    *ecdsa.PrivateKey
	mldsa    *mldsa65.PrivateKey
	ecdsaPub []byte
	mldsaPub []byte
}

func generateWholeKeys() (*wholeKeys, error) {
	ek, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("oracle: generating ECDSA P-384 key: %w", err)
	}
	epub, err := ek.PublicKey.Bytes()
	if err != nil {
		return nil, fmt.Errorf("oracle: encoding ECDSA public key: %w", err)
	}
	mpk, msk, err := mldsa65.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("oracle: generating ML-DSA-65 key: %w", err)
	}
	mpub, err := mpk.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("oracle: encoding ML-DSA public key: %w", err)
	}
	return &wholeKeys{ecdsa: ek, mldsa: msk, ecdsaPub: epub, mldsaPub: mpub}, nil
}

// signMLDSA signs msg with ML-DSA-65 (hedged, empty context) and checks the
// signature before returning it.
func (k *wholeKeys) signMLDSA(msg []byte) ([]byte, error) {
	sig := make([]byte, mldsa65.SignatureSize)
	if err := mldsa65.SignTo(k.mldsa, msg, nil, true, sig); err != nil {
		return nil, err
	}
	if !mldsa65.Verify(k.mldsa.Public().(*mldsa65.PublicKey), msg, nil, sig) {
		return nil, errors.New("ML-DSA-65 signature failed its own verification")
	}
	return sig, nil
}

// signECDSA signs SHA-384(msg) with ECDSA P-384 and checks the signature
// before returning it (DER Ecdsa-Sig-Value). The signature is in low-s form
// (s <= n/2), as the threshold combiner's.
func (k *wholeKeys) signECDSA(msg []byte) ([]byte, error) {
	d := sha512.Sum384(msg)
	r, s, err := ecdsa.Sign(rand.Reader, k.ecdsa, d[:])
	if err != nil {
		return nil, err
	}
	n := k.ecdsa.Curve.Params().N
	if s.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		s.Sub(n, s)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	sig, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encoding ECDSA signature: %w", err)
	}
	if !ecdsa.VerifyASN1(&k.ecdsa.PublicKey, d[:], sig) {
		return nil, errors.New("ECDSA signature failed its own verification")
	}
	return sig, nil
}

// verifyMLDSA checks an ML-DSA-65 signature over msg under the whole key.
func (k *wholeKeys) verifyMLDSA(msg, sig []byte) bool {
	return mldsa65.Verify(k.mldsa.Public().(*mldsa65.PublicKey), msg, nil, sig)
}
