package coordinator

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/cc-tsa/cc-tsa/cvm/membership"
	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/dkg/mldsa"
	"golang.org/x/crypto/cryptobyte"
)

// ErrCeremonyRecord is wrapped by every error about a ceremony record that
// does not decode or does not match its transcript hash.
var ErrCeremonyRecord = errors.New("coordinator: invalid ceremony record")

// MaxCeremonyRecordSize bounds the JSON encoding of a ceremony record
// (six hellos with their evidence, hex-encoded, are about 150 KB).
const MaxCeremonyRecordSize = 1 << 20

// transcriptLabel starts the ceremony transcript hash.
const transcriptLabel = "CC-TSA ceremony transcript v1"

// TranscriptHash computes the ceremony transcript hash of res that TSA
// certificates carry: SHA-512 over a label, then u32-length-prefixed the
// ML-DSA DKG transcript, the ECDSA key id, both public keys, the launch
// measurement and every Hello of the attestation round, in node order.
func TranscriptHash(res *CeremonyResult) ([64]byte, error) {
	raws := make([][]byte, len(res.Hellos))
	for i, h := range res.Hellos {
		raw, err := h.Marshal()
		if err != nil {
			return [64]byte{}, fmt.Errorf("transcript: hello %d: %w", i+1, err)
		}
		raws[i] = raw
	}
	return transcriptHash(res.MLDSATranscript[:], res.ECDSAKeyID[:], res.MLDSAPublicKey, res.ECDSAPublicKey, res.Measurement, raws), nil
}

func transcriptHash(mldsaTranscript, ecdsaKeyID, mldsaPub, ecdsaPub, measurement []byte, hellos [][]byte) [64]byte {
	h := sha512.New()
	h.Write([]byte(transcriptLabel))
	for _, part := range append([][]byte{mldsaTranscript, ecdsaKeyID, mldsaPub, ecdsaPub, measurement}, hellos...) {
		var b cryptobyte.Builder
		b.AddUint32LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(part) })
		h.Write(b.BytesOrPanic())
	}
	return [64]byte(h.Sum(nil))
}

// HexBytes is a byte string that JSON encodes as lower-case hexadecimal.
type HexBytes []byte

// MarshalText encodes b as lower-case hexadecimal.
func (b HexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(b)), nil }

// UnmarshalText decodes lower-case hexadecimal only.
func (b *HexBytes) UnmarshalText(t []byte) error {
	if bytes.ContainsFunc(t, func(r rune) bool { return r >= 'A' && r <= 'F' }) {
		return errors.New("hexadecimal must be lower-case")
	}
	out, err := hex.DecodeString(string(t))
	if err != nil {
		return err
	}
	*b = out
	return nil
}

// RecordChallenge is one challenge of the ceremony's attestation round.
type RecordChallenge struct {
	Node  uint8    `json:"node"`
	Value HexBytes `json:"value"`
}

// CeremonyRecord is the public record of a key ceremony (ceremony.json,
// served at GET /ceremony): everything its transcript hash covers, so that
// anyone holding a TSA certificate can recompute the hash the certificate
// carries, plus the challenges of the attestation round, from which the
// cluster id of the genesis membership follows (membership.Genesis).
type CeremonyRecord struct {
	TranscriptHash  HexBytes `json:"transcript_hash"`
	Measurement     HexBytes `json:"launch_measurement"`
	Attestation     string   `json:"attestation"`
	Nodes           int      `json:"nodes"`
	Threshold       int      `json:"threshold"`
	MLDSAPublicKey  HexBytes `json:"mldsa_public_key"`
	ECDSAPublicKey  HexBytes `json:"ecdsa_public_key"`
	MLDSATranscript HexBytes `json:"mldsa_dkg_transcript"`
	ECDSAKeyID      HexBytes `json:"ecdsa_key_id"`
	// Challenges are the attestation round's challenges in node order;
	// their combination (membership.Nonce) is the nonce every Hello's
	// evidence was made for. They are not covered by the transcript hash:
	// other challenges only yield another cluster id.
	Challenges []RecordChallenge `json:"challenges"`
	// Hellos are the wire encodings of the round's Hellos, in node order.
	Hellos []HexBytes `json:"hellos"`
	// CertificationRequests names the CSR files written with the record.
	CertificationRequests []string `json:"certification_requests,omitempty"`

	hellos []*wire.Hello
}

// Record returns the public record of res; attestation describes the
// attestation the ceremony required (for people; not checked).
func (res *CeremonyResult) Record(attestation string) (*CeremonyRecord, error) {
	rec := &CeremonyRecord{
		TranscriptHash: res.TranscriptHash[:], Measurement: res.Measurement, Attestation: attestation,
		Nodes: len(res.Hellos), MLDSAPublicKey: res.MLDSAPublicKey, ECDSAPublicKey: res.ECDSAPublicKey,
		MLDSATranscript: res.MLDSATranscript[:], ECDSAKeyID: res.ECDSAKeyID[:],
		CertificationRequests: []string{"mldsa.csr", "ecdsa.csr"},
	}
	if len(res.Hellos) > 0 {
		rec.Threshold = int(res.Hellos[0].Threshold)
	}
	for _, c := range res.Challenges {
		rec.Challenges = append(rec.Challenges, RecordChallenge{Node: c.Node, Value: c.Value[:]})
	}
	for i, h := range res.Hellos {
		raw, err := h.Marshal()
		if err != nil {
			return nil, fmt.Errorf("ceremony record: hello %d: %w", i+1, err)
		}
		rec.Hellos = append(rec.Hellos, raw)
	}
	raw, err := rec.Marshal()
	if err != nil {
		return nil, err
	}
	return ParseCeremonyRecord(raw) // the same checks as every reader
}

// Marshal encodes r as indented JSON with a final newline.
func (r *CeremonyRecord) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func invalidRecord(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCeremonyRecord, fmt.Sprintf(format, args...))
}

// ParseCeremonyRecord decodes and checks a ceremony record. It is strict:
// at most MaxCeremonyRecordSize bytes, exactly one JSON object with no
// unknown fields, lower-case hex, fields of their exact sizes, 2 to
// wire.MaxSigners nodes with one challenge and one Hello each in node
// order, every Hello of the cluster's shape claiming the zero cluster and
// epoch 0 (as at a ceremony), and a transcript hash that the other fields
// hash to. Every error wraps ErrCeremonyRecord.
func ParseCeremonyRecord(b []byte) (*CeremonyRecord, error) {
	if len(b) > MaxCeremonyRecordSize {
		return nil, invalidRecord("%d bytes, limit %d", len(b), MaxCeremonyRecordSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r CeremonyRecord
	if err := dec.Decode(&r); err != nil {
		return nil, invalidRecord("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalidRecord("data after the record")
	}
	for _, f := range []struct {
		name string
		v    []byte
		n    int
	}{
		{"transcript_hash", r.TranscriptHash, 64}, {"mldsa_public_key", r.MLDSAPublicKey, mldsa.PublicKeySize},
		{"ecdsa_public_key", r.ECDSAPublicKey, 97}, {"mldsa_dkg_transcript", r.MLDSATranscript, 64}, {"ecdsa_key_id", r.ECDSAKeyID, 32},
	} {
		if len(f.v) != f.n {
			return nil, invalidRecord("%s is %d bytes, want %d", f.name, len(f.v), f.n)
		}
	}
	if len(r.Measurement) != 0 && len(r.Measurement) != 48 {
		return nil, invalidRecord("launch_measurement is %d bytes, want 48 or none", len(r.Measurement))
	}
	if len(r.Attestation) > 64 || len(r.CertificationRequests) > 2 {
		return nil, invalidRecord("attestation or certification_requests too long")
	}
	if r.Nodes < 2 || r.Nodes > wire.MaxSigners || r.Threshold < 2 || r.Threshold > r.Nodes {
		return nil, invalidRecord("%d-of-%d: want 2 ≤ threshold ≤ nodes ≤ %d", r.Threshold, r.Nodes, wire.MaxSigners)
	}
	if len(r.Hellos) != r.Nodes || len(r.Challenges) != r.Nodes {
		return nil, invalidRecord("%d hellos and %d challenges for %d nodes", len(r.Hellos), len(r.Challenges), r.Nodes)
	}
	raws := make([][]byte, r.Nodes)
	for i := range r.Nodes {
		if c := r.Challenges[i]; c.Node != uint8(i+1) || len(c.Value) != wire.NonceSize {
			return nil, invalidRecord("challenge %d: node %d, %d bytes", i+1, c.Node, len(c.Value))
		}
		h := new(wire.Hello)
		if err := h.Unmarshal(r.Hellos[i]); err != nil {
			return nil, invalidRecord("hello %d: %v", i+1, err)
		}
		if h.NodeID != uint8(i+1) || int(h.Nodes) != r.Nodes || int(h.Threshold) != r.Threshold || h.Cluster != ([32]byte{}) || h.Epoch != 0 {
			return nil, invalidRecord("hello %d claims node %d of a %d-of-%d cluster %x epoch %d", i+1, h.NodeID, h.Threshold, h.Nodes, h.Cluster[:4], h.Epoch)
		}
		if _, err := peer.ParsePublicKeys(h.Identity); err != nil {
			return nil, invalidRecord("hello %d: identity: %v", i+1, err)
		}
		r.hellos = append(r.hellos, h)
		raws[i] = r.Hellos[i]
	}
	th := transcriptHash(r.MLDSATranscript, r.ECDSAKeyID, r.MLDSAPublicKey, r.ECDSAPublicKey, r.Measurement, raws)
	if !bytes.Equal(th[:], r.TranscriptHash) {
		return nil, invalidRecord("its parts hash to transcript %x…, not to the recorded %x…", th[:8], r.TranscriptHash[:8])
	}
	return &r, nil
}

// CeremonyHellos returns the decoded Hellos of a parsed record, in node
// order.
func (r *CeremonyRecord) CeremonyHellos() []*wire.Hello { return r.hellos }

// Genesis returns the membership of epoch 0 that the ceremony's oracles
// fixed from these Hellos and challenges, as the oracles compute it
// (membership.Genesis); its Cluster is the cluster id every member claims.
// The members' chips are not known from the record.
func (r *CeremonyRecord) Genesis() (*membership.Membership, error) {
	if len(r.hellos) != r.Nodes {
		return nil, invalidRecord("not a parsed record")
	}
	members := make([]membership.Member, r.Nodes)
	for i, h := range r.hellos {
		pk, err := peer.ParsePublicKeys(h.Identity)
		if err != nil {
			return nil, invalidRecord("hello %d: identity: %v", i+1, err)
		}
		members[i] = membership.Member{Keys: pk}
	}
	cs := make([]wire.Challenge, r.Nodes)
	for i, c := range r.Challenges {
		cs[i] = wire.Challenge{Node: c.Node, Value: [wire.NonceSize]byte(c.Value)}
	}
	m, err := membership.Genesis(uint8(r.Nodes), uint8(r.Threshold), members, membership.Nonce(cs))
	if err != nil {
		return nil, invalidRecord("genesis: %v", err)
	}
	return m, nil
}
