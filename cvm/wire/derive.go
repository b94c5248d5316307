package wire

import (
	"crypto/sha256"
	"encoding/binary"
)

// Envelope kinds (peer.Header.Kind) of the protocols between oracles.
const (
	EnvMLDSASign    uint8 = 1
	EnvECDSASign    uint8 = 2
	EnvMLDSADKG     uint8 = 3
	EnvECDSADKG     uint8 = 4
	EnvECDSAPresign uint8 = 5
	EnvECDSAConfirm uint8 = 6
	EnvReshare      uint8 = 7
	EnvPairSetup    uint8 = 8
	EnvTimeCheck    uint8 = 9
	EnvRefresh      uint8 = 10
)

// ClusterKeyID binds signing envelopes to one pair of threshold keys:
// SHA-256 over a label and both public keys.
func ClusterKeyID(mldsaPub, ecdsaPub []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("CC-TSA cluster key id v1"))
	binary.Write(h, binary.BigEndian, uint32(len(mldsaPub)))
	h.Write(mldsaPub)
	binary.Write(h, binary.BigEndian, uint32(len(ecdsaPub)))
	h.Write(ecdsaPub)
	return [32]byte(h.Sum(nil))
}

// MLDSAAttemptID derives the session id of ML-DSA attempt a of signing
// session sid under key keyID. Signers and combiner must agree on it.
func MLDSAAttemptID(sid SessionID, keyID [32]byte, a int) [32]byte {
	h := sha256.New()
	h.Write([]byte("CC-TSA ML-DSA attempt v1"))
	h.Write(sid[:])
	h.Write(keyID[:])
	binary.Write(h, binary.BigEndian, uint32(a))
	return [32]byte(h.Sum(nil))
}

// EnvelopeSession widens a signing session id to an envelope session id.
func EnvelopeSession(id SessionID) [32]byte {
	var s [32]byte
	copy(s[:], id[:])
	return s
}

// MaxPresignBatch bounds the presignatures one presigning relay session
// makes (protocol ProtoECDSAPresign, whose params are the signer set
// followed by the count).
const MaxPresignBatch = 8

// PresignBatchID derives the id of presignature i of the presigning relay
// session sid; it is also the session id of that presignature's DKLs23
// run. Oracles and coordinator derive the same ids.
func PresignBatchID(sid [32]byte, i int) PresignID {
	h := sha256.New()
	h.Write([]byte("CC-TSA presignature batch v1"))
	h.Write(sid[:])
	binary.Write(h, binary.BigEndian, uint32(i))
	return PresignID(h.Sum(nil))
}
