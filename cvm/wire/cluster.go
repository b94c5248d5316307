package wire

import (
	"golang.org/x/crypto/cryptobyte"
)

// Limits of cluster messages.
const (
	NonceSize       = 32
	MaxIdentity     = 2048
	MaxEvidence     = 32 << 10
	MaxEnvelope     = MaxRoundPayload + 512
	MaxEnvelopes    = 64
	MaxRelayResult  = 64 << 10
	MaxRelayParams  = 4 << 10
	RelaySessionLen = 32
)

// Hello introduces an oracle: its identity keys and attestation evidence
// whose REPORT_DATA binds those keys and the requester's nonce.
type Hello struct {
	NodeID      uint8
	Nodes       uint8
	Threshold   uint8
	Attestation Attestation
	Identity    []byte // peer.PublicKeys.Marshal()
	Evidence    []byte // attest.Evidence, marshalled; empty when AttestationNone
}

// Marshal encodes h.
func (h *Hello) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(h.NodeID)
	b.AddUint8(h.Nodes)
	b.AddUint8(h.Threshold)
	b.AddUint8(uint8(h.Attestation))
	addBytes16(&b, h.Identity)
	addBytes24(&b, h.Evidence)
	return b.Bytes()
}

// Unmarshal decodes p into h.
func (h *Hello) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	var v Hello
	var att uint8
	if !in.ReadUint8(&v.NodeID) || !in.ReadUint8(&v.Nodes) || !in.ReadUint8(&v.Threshold) || !in.ReadUint8(&att) ||
		!readBytes16(&in, &v.Identity, MaxIdentity) || !readBytes24(&in, &v.Evidence, MaxEvidence) || !in.Empty() {
		return malformed("hello")
	}
	v.Attestation = Attestation(att)
	if v.Attestation > AttestationSEVSNP || v.NodeID == 0 || v.NodeID > v.Nodes || v.Nodes > MaxSigners ||
		v.Threshold == 0 || v.Threshold > v.Nodes || len(v.Identity) == 0 {
		return malformed("hello: node %d of %d, threshold %d, attestation %d", v.NodeID, v.Nodes, v.Threshold, att)
	}
	*h = v
	return nil
}

// PeersRequest tells an oracle who its peers are: their Hello messages,
// made for Nonce. The oracle verifies each peer's attestation itself.
type PeersRequest struct {
	Nonce [NonceSize]byte
	Peers []Hello
}

// Marshal encodes r.
func (r *PeersRequest) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddBytes(r.Nonce[:])
	b.AddUint8(uint8(len(r.Peers)))
	for i := range r.Peers {
		h, err := r.Peers[i].Marshal()
		if err != nil {
			return nil, err
		}
		addBytes24(&b, h)
	}
	return b.Bytes()
}

// Unmarshal decodes p into r.
func (r *PeersRequest) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	var v PeersRequest
	var nonce []byte
	var n uint8
	if !in.ReadBytes(&nonce, NonceSize) || !in.ReadUint8(&n) || n == 0 || n > MaxSigners {
		return malformed("peers request")
	}
	copy(v.Nonce[:], nonce)
	for i := 0; i < int(n); i++ {
		var raw []byte
		if !readBytes24(&in, &raw, MaxEvidence+MaxIdentity+64) {
			return malformed("peers request: peer %d", i)
		}
		var h Hello
		if err := h.Unmarshal(raw); err != nil {
			return err
		}
		if i > 0 && v.Peers[i-1].NodeID >= h.NodeID {
			return malformed("peers request: peers not in ascending order")
		}
		v.Peers = append(v.Peers, h)
	}
	if !in.Empty() {
		return malformed("peers request: trailing bytes")
	}
	*r = v
	return nil
}

// Protocol names a multi-party protocol relayed with RelayRequest.
type Protocol uint8

// Relayed protocols.
const (
	ProtoMLDSADKG     Protocol = 1 // ML-DSA-65 distributed key generation
	ProtoECDSADKG     Protocol = 2 // ECDSA P-384 distributed key generation
	ProtoECDSAPresign Protocol = 3 // ECDSA presigning (signing pools and key confirmation)
	ProtoECDSAConfirm Protocol = 4 // ECDSA key confirmation signatures
	ProtoReshare      Protocol = 5 // hand a replacement node its shares
	ProtoPairSetup    Protocol = 6 // ECDSA pairwise OT setup with a replacement node
	ProtoTimeCheck    Protocol = 7 // one round of the cross-node time check
)

func (p Protocol) valid() bool { return p >= ProtoMLDSADKG && p <= ProtoTimeCheck }

func (p Protocol) String() string {
	switch p {
	case ProtoMLDSADKG:
		return "ML-DSA DKG"
	case ProtoECDSADKG:
		return "ECDSA DKG"
	case ProtoECDSAPresign:
		return "ECDSA presign"
	case ProtoECDSAConfirm:
		return "ECDSA confirm"
	case ProtoReshare:
		return "re-share"
	case ProtoPairSetup:
		return "ECDSA pair setup"
	case ProtoTimeCheck:
		return "cross-node time check"
	}
	return "Protocol(?)"
}

// RelayRequest advances one step of a relayed protocol on one oracle.
// Inbound holds the envelopes (package peer) other oracles addressed to it
// in the previous step; Params carries step parameters (for example a
// signer set).
type RelayRequest struct {
	Protocol Protocol
	Session  [RelaySessionLen]byte
	Step     uint8
	Params   []byte
	Inbound  [][]byte
}

// Marshal encodes r.
func (r *RelayRequest) Marshal() ([]byte, error) {
	size := 1 + RelaySessionLen + 1 + 2 + len(r.Params) + 1
	for _, e := range r.Inbound {
		size += 3 + len(e)
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, size))
	b.AddUint8(uint8(r.Protocol))
	b.AddBytes(r.Session[:])
	b.AddUint8(r.Step)
	addBytes16(b, r.Params)
	b.AddUint8(uint8(len(r.Inbound)))
	for _, e := range r.Inbound {
		addBytes24(b, e)
	}
	return b.Bytes()
}

// Unmarshal decodes p into r.
func (r *RelayRequest) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	var v RelayRequest
	var proto, n uint8
	var sid []byte
	if !in.ReadUint8(&proto) || !in.ReadBytes(&sid, RelaySessionLen) || !in.ReadUint8(&v.Step) ||
		!readBytes16(&in, &v.Params, MaxRelayParams) || !in.ReadUint8(&n) || n > MaxEnvelopes {
		return malformed("relay request")
	}
	v.Protocol = Protocol(proto)
	if !v.Protocol.valid() || v.Step == 0 {
		return malformed("relay request: protocol %d step %d", proto, v.Step)
	}
	copy(v.Session[:], sid)
	for i := 0; i < int(n); i++ {
		var e []byte
		if !readBytes24(&in, &e, MaxEnvelope) || len(e) == 0 {
			return malformed("relay request: envelope %d", i)
		}
		v.Inbound = append(v.Inbound, e)
	}
	if !in.Empty() {
		return malformed("relay request: trailing bytes")
	}
	*r = v
	return nil
}

// RelayResponse carries the envelopes an oracle sends in one step and,
// after the last step, the protocol's public result.
type RelayResponse struct {
	Outbound [][]byte
	Result   []byte
}

// Marshal encodes r.
func (r *RelayResponse) Marshal() ([]byte, error) {
	size := 1 + 3 + len(r.Result)
	for _, e := range r.Outbound {
		size += 3 + len(e)
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, size))
	b.AddUint8(uint8(len(r.Outbound)))
	for _, e := range r.Outbound {
		addBytes24(b, e)
	}
	addBytes24(b, r.Result)
	return b.Bytes()
}

// Unmarshal decodes p into r.
func (r *RelayResponse) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	var v RelayResponse
	var n uint8
	if !in.ReadUint8(&n) || n > MaxEnvelopes {
		return malformed("relay response")
	}
	for i := 0; i < int(n); i++ {
		var e []byte
		if !readBytes24(&in, &e, MaxEnvelope) || len(e) == 0 {
			return malformed("relay response: envelope %d", i)
		}
		v.Outbound = append(v.Outbound, e)
	}
	if !readBytes24(&in, &v.Result, MaxRelayResult) || !in.Empty() {
		return malformed("relay response: result or trailing bytes")
	}
	if len(v.Result) == 0 {
		v.Result = nil
	}
	*r = v
	return nil
}

// BeginCSRRequest opens a session in which the signer set signs the
// oracles' certification requests (PKCS #10) with both threshold keys.
type BeginCSRRequest struct {
	Session SessionID
	Signers []uint8
	Presign PresignID
}

// Marshal encodes r.
func (r *BeginCSRRequest) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddBytes(r.Session[:])
	addBytes8(&b, r.Signers)
	b.AddBytes(r.Presign[:])
	return b.Bytes()
}

// Unmarshal decodes p into r.
func (r *BeginCSRRequest) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	var v BeginCSRRequest
	var sid, signers, pid []byte
	if !in.ReadBytes(&sid, SessionIDSize) || !readBytes8(&in, &signers, MaxSigners) ||
		!in.ReadBytes(&pid, len(v.Presign)) || !in.Empty() {
		return malformed("begin CSR request")
	}
	if err := checkSigners(signers); err != nil {
		return err
	}
	copy(v.Session[:], sid)
	copy(v.Presign[:], pid)
	v.Signers = signers
	*r = v
	return nil
}
