package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"
)

func sampleFields() TokenFields {
	return TokenFields{Policy: PolicyHybrid, HashAlg: SHA384, HashParamsNull: true, Imprint: bytes.Repeat([]byte{7}, 48), Nonce: []byte{0x00, 0x80, 0x01}, CertReq: true}
}

func sampleProposal() Proposal {
	return Proposal{Serial: []byte{0x40, 1, 2, 3}, GenTimeUnix: 1_800_000_000, GenTimeNanos: 123_456_000, AccuracyMicros: 1_000_000}
}

// samples returns one valid message of every type, encoded.
func samples(t testing.TB) map[Type][]byte {
	enc := func(m interface{ Marshal() ([]byte, error) }) []byte {
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	f, p := sampleFields(), sampleProposal()
	return map[Type][]byte{
		TypeStatusResponse: enc(&Status{State: StateReady, Mode: ModeThreshold, NodeID: 1, Threshold: 3, Nodes: 5, ClockTrusted: true,
			ClockSource: "test", ClockAccuracyMicros: 5, TSAName: []byte{0x30, 0}, ECDSAPublicKey: make([]byte, 97),
			MLDSAPublicKey: make([]byte, 1952), ECDSAKeyID: make([]byte, 20), MLDSAKeyID: make([]byte, 20), Label: "x",
			Presignatures: 3, Banned: []uint8{2, 4}}),
		TypeInstallRequest: enc(&InstallRequest{
			ECDSA: CertInfo{Certificate: []byte{0x30, 0}, Issuer: []byte{0x30, 0}, Serial: []byte{1}},
			MLDSA: CertInfo{Certificate: []byte{0x30, 0}, Issuer: []byte{0x30, 0}, Serial: []byte{2}}}),
		TypeProposeRequest: enc(&ProposeRequest{Signers: []uint8{2, 4, 5}, Fields: f}),
		TypeProposal:       enc(&p),
		TypeBeginRequest:   enc(&BeginRequest{Session: SessionID{1, 2}, Signers: []uint8{1, 3, 5}, Fields: f, Proposal: p, Presign: PresignID{1}}),
		TypeBeginResponse:  enc(&BeginResponse{TSTInfo: []byte{0x30, 0}, MLDSASignedAttrs: []byte{0x31, 0}, Round1: []byte{1}}),
		TypeRoundRequest: enc(&RoundRequest{Session: SessionID{9}, Scheme: SchemeMLDSA65, Round: 2,
			Inbound: []RoundMessage{{From: 2, Payload: []byte("a")}, {From: 4, Payload: []byte("bc")}}}),
		TypeRoundResponse:  enc(&RoundResponse{Payload: []byte("sig")}),
		TypeAttachRequest:  enc(&AttachRequest{Session: SessionID{3}, MLDSASignature: make([]byte, MaxMLDSASig)}),
		TypeAttachResponse: enc(&AttachResponse{InnerToken: []byte{0x30, 0}, ECDSASignedAttrs: []byte{0x31, 0}, ECDSA: []byte{1, 2, 3}}),
		TypeError:          enc(&Error{Code: CodeRefused, Message: "no"}),
		TypeHello:          enc(&Hello{NodeID: 2, Nodes: 5, Threshold: 3, Attestation: AttestationSimulated, Cluster: [32]byte{8}, Epoch: 3, Identity: []byte{1, 2}, Evidence: []byte{3}}),
		TypePeersRequest: enc(&PeersRequest{Challenges: []Challenge{{Node: 1, Value: [32]byte{1}}, {Node: 4}}, Peers: []Hello{
			{NodeID: 1, Nodes: 5, Threshold: 3, Identity: []byte{1}}, {NodeID: 4, Nodes: 5, Threshold: 3, Identity: []byte{2}}}}),
		TypeRelayRequest:    enc(&RelayRequest{Protocol: ProtoECDSADKG, Session: [32]byte{5}, Step: 2, Params: []byte{1, 2, 3}, Inbound: [][]byte{{1}, {2, 3}}}),
		TypeRelayResponse:   enc(&RelayResponse{Outbound: [][]byte{{9}}, Result: []byte{1}}),
		TypeBeginCSRRequest: enc(&BeginCSRRequest{Session: SessionID{1}, Signers: []uint8{1, 2, 3}, Presign: PresignID{7}}),
	}
}

func TestRoundTrip(t *testing.T) {
	for typ, payload := range samples(t) {
		m := decoderFor(typ)
		if err := m.Unmarshal(payload); err != nil {
			t.Fatalf("%v: %v", typ, err)
		}
		again, err := m.(interface{ Marshal() ([]byte, error) }).Marshal()
		if err != nil || !bytes.Equal(again, payload) {
			t.Fatalf("%v: re-encoding differs (err %v)", typ, err)
		}
		// Every strict prefix and every extension by one byte is refused.
		for i := 0; i < len(payload); i++ {
			if decoderFor(typ).Unmarshal(payload[:i]) == nil {
				t.Fatalf("%v: truncated to %d bytes accepted", typ, i)
			}
		}
		if decoderFor(typ).Unmarshal(append(bytes.Clone(payload), 0)) == nil {
			t.Fatalf("%v: trailing byte accepted", typ)
		}
	}
}

func TestFieldChecks(t *testing.T) {
	bad := []struct {
		name string
		f    func(*TokenFields)
	}{
		{"imprint length", func(f *TokenFields) { f.Imprint = f.Imprint[:47] }},
		{"hash", func(f *TokenFields) { f.HashAlg = 9 }},
		{"policy", func(f *TokenFields) { f.Policy = 3 }},
		{"negative nonce", func(f *TokenFields) { f.Nonce = []byte{0x80} }},
		{"non-minimal nonce", func(f *TokenFields) { f.Nonce = []byte{0, 1} }},
		{"nonce over 160 bits", func(f *TokenFields) { f.Nonce = bytes.Repeat([]byte{1}, 21) }},
	}
	for _, tc := range bad {
		f := sampleFields()
		tc.f(&f)
		b, _ := f.Marshal()
		var g TokenFields
		if err := g.Unmarshal(b); !errors.Is(err, ErrMessage) {
			t.Errorf("%s: got %v, want ErrMessage", tc.name, err)
		}
	}
	badP := []func(*Proposal){
		func(p *Proposal) { p.Serial = []byte{0} },
		func(p *Proposal) { p.Serial = []byte{0x80} },
		func(p *Proposal) { p.Serial = []byte{0, 1} },
		func(p *Proposal) { p.GenTimeNanos = 1 },
		func(p *Proposal) { p.GenTimeNanos = 1e9 },
		func(p *Proposal) { p.AccuracyMicros = 0 },
		func(p *Proposal) { p.GenTimeUnix = -1 },
	}
	for i, mut := range badP {
		p := sampleProposal()
		mut(&p)
		b, _ := p.Marshal()
		var q Proposal
		if err := q.Unmarshal(b); !errors.Is(err, ErrMessage) {
			t.Errorf("proposal case %d: got %v", i, err)
		}
	}
	for _, s := range [][]uint8{{}, {2, 1}, {1, 1}, {0}, {7}} {
		r := BeginRequest{Signers: s, Fields: sampleFields(), Proposal: sampleProposal()}
		b, _ := r.Marshal()
		if err := new(BeginRequest).Unmarshal(b); !errors.Is(err, ErrMessage) {
			t.Errorf("signers %v accepted", s)
		}
		pr := ProposeRequest{Signers: s, Fields: sampleFields()}
		b, _ = pr.Marshal()
		if err := new(ProposeRequest).Unmarshal(b); !errors.Is(err, ErrMessage) {
			t.Errorf("propose request with signers %v accepted", s)
		}
	}
}

// TestProposeRequestVersioned checks that the first revision's propose
// request cannot be misread: its type is retired, and its payload (token
// fields without a signer set) does not decode as a ProposeRequest.
func TestProposeRequestVersioned(t *testing.T) {
	if Type(0x03).Known() {
		t.Fatal("retired type 0x03 is still known")
	}
	var buf bytes.Buffer
	buf.Write(AppendHeader(nil, TypeProposeRequest, 1, 0))
	buf.Bytes()[3] = 0x03
	if _, err := ReadFrame(&buf); !errors.Is(err, ErrFrame) {
		t.Fatalf("frame of the retired type: %v", err)
	}
	for _, f := range []TokenFields{
		sampleFields(),
		{Policy: PolicyMLDSA, HashAlg: SHA256, Imprint: make([]byte, 32)},
		{Policy: PolicyHybrid, HashAlg: SHA512, Imprint: make([]byte, 64), Nonce: []byte{1}},
	} {
		old, _ := f.Marshal()
		if err := new(ProposeRequest).Unmarshal(old); err == nil {
			t.Errorf("old propose payload %x decodes as a ProposeRequest", old)
		}
	}
}

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	want := Frame{Type: TypeRoundRequest, ID: 42, Payload: []byte("hello")}
	if err := WriteFrame(&buf, want); err != nil {
		t.Fatal(err)
	}
	raw := bytes.Clone(buf.Bytes())
	got, err := ReadFrame(&buf)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v", got, err)
	}
	mutate := func(i int, v byte) []byte { b := bytes.Clone(raw); b[i] = v; return b }
	for name, b := range map[string][]byte{
		"magic":     mutate(0, 0),
		"version":   mutate(2, 2),
		"type":      mutate(3, 0x70),
		"oversize":  append(mutate(8, 0xff), raw[9:]...),
		"truncated": raw[:len(raw)-1],
	} {
		if _, err := ReadFrame(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ReadFrame(bytes.NewReader(nil)); err != io.EOF {
		t.Errorf("empty stream: %v, want io.EOF", err)
	}
	if err := WriteFrame(io.Discard, Frame{Type: TypeOK, Payload: make([]byte, MaxPayload+1)}); err == nil {
		t.Error("oversized frame written")
	}
}

func TestParseLateProposal(t *testing.T) {
	for _, c := range []struct {
		msg  string
		want time.Duration
		ok   bool
	}{
		{LateProposal + "1500µs: proposed genTime …", 1500 * time.Microsecond, true},
		{LateProposal + "0µs: x", 0, true},
		{LateProposal + "-5µs: x", 0, false},
		{LateProposal + "5ms: x", 0, false},
		{LateProposal + "99999999999999µs: x", 0, false},
		{"proposed genTime … is behind", 0, false},
	} {
		got, ok := ParseLateProposal(c.msg)
		if got != c.want || ok != c.ok {
			t.Errorf("%q: %v %v, want %v %v", c.msg, got, ok, c.want, c.ok)
		}
	}
}
