package coordinator

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/membership"
	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/dkg/mldsa"
)

// syntheticCeremony returns a CeremonyResult with the shape of a real one
// (n hellos for the nonce of n challenges, fresh identities, random keys
// and evidence bytes) and its transcript hash, and the identities.
func syntheticCeremony(t testing.TB, n, threshold int) (*CeremonyResult, []peer.PublicKeys) {
	t.Helper()
	res := &CeremonyResult{
		MLDSAPublicKey: make([]byte, mldsa.PublicKeySize), ECDSAPublicKey: make([]byte, 97),
		Measurement: make([]byte, 48),
	}
	rand.Read(res.MLDSAPublicKey)
	rand.Read(res.ECDSAPublicKey)
	res.ECDSAPublicKey[0] = 4
	rand.Read(res.MLDSATranscript[:])
	rand.Read(res.ECDSAKeyID[:])
	rand.Read(res.Measurement)
	var ids []peer.PublicKeys
	for i := 1; i <= n; i++ {
		id, err := peer.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id.Public())
		c := wire.Challenge{Node: uint8(i)}
		rand.Read(c.Value[:])
		res.Challenges = append(res.Challenges, c)
		ev := make([]byte, 64)
		rand.Read(ev)
		res.Hellos = append(res.Hellos, &wire.Hello{NodeID: uint8(i), Nodes: uint8(n), Threshold: uint8(threshold),
			Attestation: wire.AttestationSimulated, Identity: id.Public().Marshal(), Evidence: ev})
	}
	th, err := TranscriptHash(res)
	if err != nil {
		t.Fatal(err)
	}
	res.TranscriptHash = th
	return res, ids
}

// TestCeremonyRecordRoundTrip checks that a record parses back, verifies
// against its transcript hash and yields the genesis membership the
// oracles compute from the same hellos and challenges.
func TestCeremonyRecordRoundTrip(t *testing.T) {
	res, ids := syntheticCeremony(t, 5, 3)
	rec, err := res.Record("SIMULATED")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseCeremonyRecord(raw)
	if err != nil {
		t.Fatalf("ParseCeremonyRecord: %v", err)
	}
	if !bytes.Equal(got.TranscriptHash, res.TranscriptHash[:]) || got.Nodes != 5 || got.Threshold != 3 {
		t.Fatalf("record %+v", got)
	}
	g, err := got.Genesis()
	if err != nil {
		t.Fatal(err)
	}
	var members []membership.Member
	for _, id := range ids {
		members = append(members, membership.Member{Keys: id})
	}
	want, err := membership.Genesis(5, 3, members, membership.Nonce(res.Challenges))
	if err != nil {
		t.Fatal(err)
	}
	if g.Cluster != want.Cluster || g.Digest() != want.Digest() {
		t.Fatalf("genesis cluster %x, want %x", g.Cluster, want.Cluster)
	}
}

// TestCeremonyRecordRefusals checks that a record whose parts do not hash
// to its transcript hash, or that is malformed, is refused with
// ErrCeremonyRecord.
func TestCeremonyRecordRefusals(t *testing.T) {
	res, _ := syntheticCeremony(t, 5, 3)
	rec, err := res.Record("SIMULATED")
	if err != nil {
		t.Fatal(err)
	}
	good, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	other, _ := syntheticCeremony(t, 5, 3)
	otherRec, _ := other.Record("SIMULATED")
	otherRaw, _ := otherRec.Marshal()
	var otherMap map[string]any
	json.Unmarshal(otherRaw, &otherMap)
	for name, b := range map[string][]byte{
		"another ECDSA key":     edit(func(m map[string]any) { m["ecdsa_public_key"] = otherMap["ecdsa_public_key"] }),
		"another hello":         edit(func(m map[string]any) { m["hellos"].([]any)[2] = otherMap["hellos"].([]any)[2] }),
		"hellos reordered":      edit(func(m map[string]any) { h := m["hellos"].([]any); h[0], h[1] = h[1], h[0] }),
		"a hello missing":       edit(func(m map[string]any) { m["hellos"] = m["hellos"].([]any)[:4] }),
		"another transcript":    edit(func(m map[string]any) { m["transcript_hash"] = otherMap["transcript_hash"] }),
		"challenges of another": edit(func(m map[string]any) { m["challenges"] = otherMap["challenges"] }),
		"unknown field":         edit(func(m map[string]any) { m["extra"] = 1 }),
		"upper-case hex":        edit(func(m map[string]any) { m["ecdsa_key_id"] = strings.ToUpper(m["ecdsa_key_id"].(string)) }),
		"short key id":          edit(func(m map[string]any) { m["ecdsa_key_id"] = "00" }),
		"nodes disagree":        edit(func(m map[string]any) { m["nodes"] = 4 }),
		"trailing data":         append(append([]byte{}, good...), []byte(" {}")...),
		"not JSON":              []byte("hello"),
		"too large":             bytes.Repeat([]byte(" "), MaxCeremonyRecordSize+1),
	} {
		_, err := ParseCeremonyRecord(b)
		if name == "challenges of another" {
			// The challenges are not in the transcript; a record with other
			// challenges parses but yields another cluster id.
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if !errors.Is(err, ErrCeremonyRecord) {
			t.Errorf("%s: %v, want ErrCeremonyRecord", name, err)
		}
	}
}

// FuzzParseCeremonyRecord checks that the record parser never panics,
// fails only with ErrCeremonyRecord, and that whatever it accepts
// re-encodes to a record that parses to the same transcript and genesis.
func FuzzParseCeremonyRecord(f *testing.F) {
	res, _ := syntheticCeremony(f, 3, 2)
	rec, err := res.Record("SIMULATED")
	if err != nil {
		f.Fatal(err)
	}
	good, err := rec.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(`{"nodes":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseCeremonyRecord(b)
		if err != nil {
			if !errors.Is(err, ErrCeremonyRecord) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		r2, err := ParseCeremonyRecord(again)
		if err != nil {
			t.Fatalf("re-encoded record refused: %v", err)
		}
		if !bytes.Equal(r.TranscriptHash, r2.TranscriptHash) {
			t.Fatal("transcript changed")
		}
		g1, err1 := r.Genesis()
		g2, err2 := r2.Genesis()
		if (err1 == nil) != (err2 == nil) || (err1 == nil && g1.Cluster != g2.Cluster) {
			t.Fatalf("genesis differs: %v / %v", err1, err2)
		}
	})
}
