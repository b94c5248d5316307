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
