package wire

import (
	"bytes"
	"testing"
)

type codec interface {
	Unmarshal([]byte) error
	Marshal() ([]byte, error)
}

// decoderFor returns a fresh value that decodes the payload of t.
func decoderFor(t Type) codec {
	switch t {
	case TypeStatusResponse:
		return new(Status)
	case TypeInstallRequest:
		return new(InstallRequest)
	case TypeProposeRequest:
		return new(ProposeRequest)
	case TypeProposal:
		return new(Proposal)
	case TypeBeginRequest:
		return new(BeginRequest)
	case TypeBeginResponse:
		return new(BeginResponse)
	case TypeRoundRequest:
		return new(RoundRequest)
	case TypeRoundResponse:
		return new(RoundResponse)
	case TypeAttachRequest:
		return new(AttachRequest)
	case TypeAttachResponse:
		return new(AttachResponse)
	case TypeError:
		return new(Error)
	case TypeHello:
		return new(Hello)
	case TypePeersRequest:
		return new(PeersRequest)
	case TypeRelayRequest:
		return new(RelayRequest)
	case TypeRelayResponse:
		return new(RelayResponse)
	case TypeBeginCSRRequest:
		return new(BeginCSRRequest)
	}
	return nil
}

// FuzzFrame feeds arbitrary bytes to the frame reader and, for frames that
// parse, to the payload decoder of their type. Anything that decodes must
// re-encode to the same bytes.
func FuzzFrame(f *testing.F) {
	for typ, p := range samples(f) {
		var buf bytes.Buffer
		WriteFrame(&buf, Frame{Type: typ, ID: 7, Payload: p})
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := ReadFrame(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(fr.Payload) > MaxPayload {
			t.Fatal("oversized payload accepted")
		}
		d := decoderFor(fr.Type)
		if d == nil {
			return
		}
		if err := d.Unmarshal(fr.Payload); err != nil {
			return
		}
		again, err := d.Marshal()
		if err != nil {
			t.Fatalf("decoded %v does not re-encode: %v", fr.Type, err)
		}
		if !bytes.Equal(again, fr.Payload) {
			t.Fatalf("%v: decode/encode is not the identity", fr.Type)
		}
	})
}

// FuzzMemberChange: the membership protocol's parameters (relay protocol
// 8, steps 2 and 3) and endorsements decode strictly and re-encode to
// their input.
func FuzzMemberChange(f *testing.F) {
	h := Hello{NodeID: 2, Nodes: 5, Threshold: 3, Attestation: AttestationSimulated, Cluster: [32]byte{1}, Epoch: 1, Identity: []byte{1, 2}, Evidence: []byte{3}}
	m := h
	m.NodeID = 1
	for _, mc := range []*MemberChange{
		{Index: 2, Challenges: []Challenge{{Node: 1, Value: [32]byte{7}}, {Node: 2}}, Joiner: h},
		{Index: 2, Challenges: []Challenge{{Node: 1}}, Joiner: h, Endorsements: []Endorsement{{Signer: 1, Used: 9, Signature: []byte{1}}}, Members: []Hello{m}},
	} {
		b, err := mc.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var mc MemberChange
		if mc.Unmarshal(b) == nil {
			out, err := mc.Marshal()
			if err != nil || !bytes.Equal(out, b) {
				t.Fatalf("member change does not re-encode: %v", err)
			}
		}
		var e Endorsement
		if e.Unmarshal(b) == nil {
			if out, _ := e.Marshal(); !bytes.Equal(out, b) {
				t.Fatal("endorsement does not re-encode")
			}
		}
	})
}
