package ecdsa

import (
	stdecdsa "crypto/ecdsa"
	"crypto/subtle"
	"fmt"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/transcript"
)

// ConfirmationDigest returns the 48-byte digest that the signer set signs to
// confirm a freshly generated key. It is domain-separated so that no
// application ever parses it as a message.
func ConfirmationDigest(keyID [32]byte, signers []int) []byte {
	t := transcript.New("key-confirmation").Bytes(keyID[:])
	for _, j := range signers {
		t.Uint32(uint32(j))
	}
	return t.Sum(DigestSize)
}

func isConfirmationDigest(k *KeyShare, set []int, digest []byte) bool {
	return subtle.ConstantTimeCompare(ConfirmationDigest(k.keyID, set), digest) == 1
}

// ConfirmKey checks one confirmation signature per Threshold-subset (in the
// order of Subsets) against the group public key and marks the share
// confirmed. Running the ten confirmations exercises every ordered pair's OT
// setup in both directions before the key is used for anything else.
func (k *KeyShare) ConfirmKey(sigs [][]byte) error {
	subsets := Subsets()
	if len(sigs) != len(subsets) {
		return fmt.Errorf("%w: need %d signatures", ErrConfirmation, len(subsets))
	}
	pub := k.PublicKey()
	for n, set := range subsets {
		if !stdecdsa.VerifyASN1(pub, ConfirmationDigest(k.keyID, set), sigs[n]) {
			return fmt.Errorf("%w: subset %v", ErrConfirmation, set)
		}
	}
	k.confirm.Store(true)
	return nil
}
