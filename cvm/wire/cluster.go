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
	MaxRelayParams  = 60 << 10
	RelaySessionLen = 32
)

// Hello introduces an oracle: its identity keys and attestation evidence
// whose REPORT_DATA binds its membership claim (cluster, epoch, node index,
// cluster shape and identity keys; see package membership) and the
// requester's nonce.
type Hello struct {
	NodeID      uint8
	Nodes       uint8
	Threshold   uint8
	Attestation Attestation
	// Cluster and Epoch are the membership the oracle is in or, if it is
	// not a member yet, applies for (all zero at the key ceremony).
	Cluster  [32]byte
	Epoch    uint64
	Identity []byte // peer.PublicKeys.Marshal()
	Evidence []byte // attest.Evidence, marshalled; empty when AttestationNone
}

// HelloRequest asks an oracle for its Hello, made for Nonce. Cluster and
// Epoch say which membership an oracle that is not a member yet applies
// for; a member ignores them and claims its own.
type HelloRequest struct {
	Nonce   [NonceSize]byte
	Cluster [32]byte
	Epoch   uint64
}

// Marshal encodes r.
func (r *HelloRequest) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddBytes(r.Nonce[:])
	b.AddBytes(r.Cluster[:])
	b.AddUint64(r.Epoch)
	return b.Bytes()
}

// Unmarshal decodes p into r.
func (r *HelloRequest) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	var nonce, cluster []byte
	var v HelloRequest
	if !in.ReadBytes(&nonce, NonceSize) || !in.ReadBytes(&cluster, 32) || !in.ReadUint64(&v.Epoch) || !in.Empty() {
		return malformed("hello request")
	}
	copy(v.Nonce[:], nonce)
	copy(v.Cluster[:], cluster)
	*r = v
	return nil
}

// Challenge is one verifier's contribution to the nonce of an attestation
// round: its node index and a fresh random value it remembers.
type Challenge struct {
	Node  uint8
	Value [NonceSize]byte
}

func addChallenges(b *cryptobyte.Builder, cs []Challenge) {
	b.AddUint8(uint8(len(cs)))
	for _, c := range cs {
		b.AddUint8(c.Node)
		b.AddBytes(c.Value[:])
	}
}

// readChallenges reads challenges: at least one, at most MaxSigners, node
// ids strictly ascending.
func readChallenges(in *cryptobyte.String, out *[]Challenge) bool {
	var n uint8
	if !in.ReadUint8(&n) || n == 0 || n > MaxSigners {
		return false
	}
	cs := make([]Challenge, n)
	for i := range cs {
		var v []byte
		if !in.ReadUint8(&cs[i].Node) || !in.ReadBytes(&v, NonceSize) || cs[i].Node == 0 || (i > 0 && cs[i-1].Node >= cs[i].Node) {
			return false
		}
		copy(cs[i].Value[:], v)
	}
	*out = cs
	return true
}

// Marshal encodes h.
func (h *Hello) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(h.NodeID)
	b.AddUint8(h.Nodes)
	b.AddUint8(h.Threshold)
	b.AddUint8(uint8(h.Attestation))
	b.AddBytes(h.Cluster[:])
	b.AddUint64(h.Epoch)
	addBytes16(&b, h.Identity)
	addBytes24(&b, h.Evidence)
	return b.Bytes()
}

// Unmarshal decodes p into h.
func (h *Hello) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	var v Hello
	var att uint8
	var cluster []byte
	if !in.ReadUint8(&v.NodeID) || !in.ReadUint8(&v.Nodes) || !in.ReadUint8(&v.Threshold) || !in.ReadUint8(&att) ||
		!in.ReadBytes(&cluster, 32) || !in.ReadUint64(&v.Epoch) || !readBytes16(&in, &v.Identity, MaxIdentity) || !readBytes24(&in, &v.Evidence, MaxEvidence) || !in.Empty() {
		return malformed("hello")
	}
	v.Attestation = Attestation(att)
	copy(v.Cluster[:], cluster)
	if v.Attestation > AttestationSEVSNP || v.NodeID == 0 || v.NodeID > v.Nodes || v.Nodes > MaxSigners ||
		v.Threshold == 0 || v.Threshold > v.Nodes || len(v.Identity) == 0 {
		return malformed("hello: node %d of %d, threshold %d, attestation %d", v.NodeID, v.Nodes, v.Threshold, att)
	}
	*h = v
	return nil
}

// PeersRequest fixes the membership of the key ceremony: every node's
// Hello, made for the nonce that Challenges combine (membership.Nonce). The
// oracle checks that its own challenge is among them and verifies each
// peer's attestation itself.
type PeersRequest struct {
	Challenges []Challenge
	Peers      []Hello
}

// Marshal encodes r.
func (r *PeersRequest) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	addChallenges(&b, r.Challenges)
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
	var n uint8
	if !readChallenges(&in, &v.Challenges) || !in.ReadUint8(&n) || n == 0 || n > MaxSigners {
		return malformed("peers request")
	}
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
	ProtoMembership   Protocol = 8 // challenges and membership changes
	ProtoRefresh      Protocol = 9 // ECDSA share refresh among all members
)

func (p Protocol) valid() bool { return p >= ProtoMLDSADKG && p <= ProtoRefresh }

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
	case ProtoMembership:
		return "membership"
	case ProtoRefresh:
		return "ECDSA share refresh"
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

// Endorsement is one member's signed endorsement of a membership change
// (see package membership): its node index, the ML-DSA signing sessions its
// share has used, and its identity key's signature.
type Endorsement struct {
	Signer    uint8
	Used      uint64
	Signature []byte
}

// MaxEndorsementSignature bounds an endorsement's signature.
const MaxEndorsementSignature = 256

// Marshal encodes e.
func (e *Endorsement) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	e.add(&b)
	return b.Bytes()
}

func (e *Endorsement) add(b *cryptobyte.Builder) {
	b.AddUint8(e.Signer)
	b.AddUint64(e.Used)
	addBytes8(b, e.Signature)
}

func (e *Endorsement) read(in *cryptobyte.String) bool {
	return in.ReadUint8(&e.Signer) && in.ReadUint64(&e.Used) && readBytes8(in, &e.Signature, MaxEndorsementSignature) &&
		e.Signer != 0 && len(e.Signature) > 0
}

// Unmarshal decodes p into e.
func (e *Endorsement) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	var v Endorsement
	if !v.read(&in) || !in.Empty() {
		return malformed("endorsement")
	}
	*e = v
	return nil
}

// MemberChange is the parameter of the membership protocol's steps 2
// (endorse) and 3 (commit): the node index whose identity changes, the
// challenges of the attestation round, the joining oracle's Hello (made for
// the round's nonce, applying for the next epoch), and for step 3 the
// endorsements and the Hellos of the current members that the joining
// oracle checks.
type MemberChange struct {
	Index        uint8
	Challenges   []Challenge
	Joiner       Hello
	Endorsements []Endorsement
	Members      []Hello
}

// Marshal encodes c.
func (c *MemberChange) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(c.Index)
	addChallenges(&b, c.Challenges)
	j, err := c.Joiner.Marshal()
	if err != nil {
		return nil, err
	}
	addBytes24(&b, j)
	b.AddUint8(uint8(len(c.Endorsements)))
	for i := range c.Endorsements {
		c.Endorsements[i].add(&b)
	}
	b.AddUint8(uint8(len(c.Members)))
	for i := range c.Members {
		h, err := c.Members[i].Marshal()
		if err != nil {
			return nil, err
		}
		addBytes24(&b, h)
	}
	return b.Bytes()
}

// Unmarshal decodes p into c.
func (c *MemberChange) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	var v MemberChange
	var raw []byte
	var ne, nm uint8
	if !in.ReadUint8(&v.Index) || v.Index == 0 || !readChallenges(&in, &v.Challenges) ||
		!readBytes24(&in, &raw, MaxEvidence+MaxIdentity+64) || v.Joiner.Unmarshal(raw) != nil ||
		!in.ReadUint8(&ne) || ne > MaxSigners {
		return malformed("membership change")
	}
	for i := 0; i < int(ne); i++ {
		var e Endorsement
		if !e.read(&in) {
			return malformed("membership change: endorsement %d", i)
		}
		v.Endorsements = append(v.Endorsements, e)
	}
	if !in.ReadUint8(&nm) || nm > MaxSigners {
		return malformed("membership change: members")
	}
	for i := 0; i < int(nm); i++ {
		var h Hello
		if !readBytes24(&in, &raw, MaxEvidence+MaxIdentity+64) || h.Unmarshal(raw) != nil ||
			(i > 0 && v.Members[i-1].NodeID >= h.NodeID) {
			return malformed("membership change: member %d", i)
		}
		v.Members = append(v.Members, h)
	}
	if !in.Empty() {
		return malformed("membership change: trailing bytes")
	}
	*c = v
	return nil
}
