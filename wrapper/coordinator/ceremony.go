package coordinator

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/membership"
	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	tecdsa "github.com/cc-tsa/cc-tsa/dkg/ecdsa"
	"github.com/cc-tsa/cc-tsa/dkg/mldsa"
	"golang.org/x/crypto/cryptobyte"
)

// AttestationCheck verifies one oracle's Hello (its attestation evidence
// must bind its identity keys and nonce) and returns the launch
// measurement it attests to.
type AttestationCheck func(h *wire.Hello, nonce [wire.NonceSize]byte) (measurement []byte, err error)

// CeremonyConfig configures a key ceremony.
type CeremonyConfig struct {
	Nodes     []*Node
	Threshold int
	Attest    AttestationCheck
	Logger    *slog.Logger
	// TimeCheck runs the cross-node time check before the certification
	// requests (oracles that require their peers' verdict).
	TimeCheck bool
	// Progress, if not nil, is told about each phase as it starts.
	Progress func(phase string)
}

// CeremonyResult is the public outcome of a key ceremony.
type CeremonyResult struct {
	MLDSAPublicKey  []byte
	ECDSAPublicKey  []byte
	MLDSATranscript [64]byte
	ECDSAKeyID      [32]byte
	// TranscriptHash binds both key generations, every node's identity and
	// attestation evidence; TSA certificates carry it.
	TranscriptHash [64]byte
	Measurement    []byte // the launch measurement all nodes attested to
	// MLDSACSR and ECDSACSR are PKCS #10 requests for the two keys, each
	// signed by the threshold protocol itself.
	MLDSACSR, ECDSACSR []byte
	Hellos             []*wire.Hello
	// Challenges are the attestation round's challenges (node order); the
	// nonce of every Hello's evidence and the genesis cluster id follow
	// from them (membership.Nonce, membership.Genesis).
	Challenges []wire.Challenge
}

// Challenges asks every node for a fresh challenge; the nonce of an
// attestation round combines them (membership.Nonce), so every oracle that
// contributed one knows the round's evidence is fresh.
func Challenges(ctx context.Context, nodes []*Node) ([]wire.Challenge, error) {
	vals, err := parallel(nodes, func(n *Node) ([]byte, error) {
		resp, err := n.Client.Relay(ctx, &wire.RelayRequest{Protocol: wire.ProtoMembership, Step: 1})
		if err != nil {
			return nil, err
		}
		if len(resp.Result) != wire.NonceSize {
			return nil, fmt.Errorf("challenge of %d bytes", len(resp.Result))
		}
		return resp.Result, nil
	})
	if err != nil {
		return nil, fmt.Errorf("challenges: %w", err)
	}
	out := make([]wire.Challenge, len(nodes))
	for i, n := range nodes {
		out[i] = wire.Challenge{Node: n.ID(), Value: [wire.NonceSize]byte(vals[i])}
	}
	slices.SortFunc(out, func(a, b wire.Challenge) int { return int(a.Node) - int(b.Node) })
	return out, nil
}

// Attest runs an attestation round: it collects every node's challenge,
// fetches every node's Hello for the nonce they combine (a node that is not
// a member yet applying for apply's cluster and epoch), checks each Hello's
// attestation and records its identity keys. It returns the Hellos in node
// order, the challenges, the nonce and the common measurement.
func Attest(ctx context.Context, nodes []*Node, check AttestationCheck, apply *wire.HelloRequest) ([]*wire.Hello, []wire.Challenge, [wire.NonceSize]byte, []byte, error) {
	var nonce [wire.NonceSize]byte
	challenges, err := Challenges(ctx, nodes)
	if err != nil {
		return nil, nil, nonce, nil, err
	}
	nonce = membership.Nonce(challenges)
	req := &wire.HelloRequest{Nonce: nonce}
	if apply != nil {
		req.Cluster, req.Epoch = apply.Cluster, apply.Epoch
	}
	hellos, err := parallel(nodes, func(n *Node) (*wire.Hello, error) { return n.Client.Hello(ctx, req) })
	if err != nil {
		return nil, nil, nonce, nil, fmt.Errorf("hello: %w", err)
	}
	var measurement []byte
	for i, h := range hellos {
		m, err := check(h, nonce)
		if err != nil {
			return nil, nil, nonce, nil, &NodeError{Node: nodes[i].ID(), Err: fmt.Errorf("attestation refused: %w", err)}
		}
		if h.NodeID != nodes[i].ID() {
			return nil, nil, nonce, nil, &NodeError{Node: nodes[i].ID(), Err: fmt.Errorf("hello claims node %d", h.NodeID)}
		}
		if measurement != nil && !bytes.Equal(m, measurement) {
			return nil, nil, nonce, nil, &NodeError{Node: h.NodeID, Err: errors.New("attests to a different launch measurement than its peers")}
		}
		measurement = m
		pk, err := peer.ParsePublicKeys(h.Identity)
		if err != nil {
			return nil, nil, nonce, nil, &NodeError{Node: h.NodeID, Err: err}
		}
		nodes[i].SetIdentity(pk)
	}
	return hellos, challenges, nonce, measurement, nil
}

// RunCeremony runs the key ceremony on all nodes: attestation, both
// distributed key generations, the ECDSA key confirmation by every signer
// subset, and the certification requests signed by the new keys.
func RunCeremony(ctx context.Context, cfg CeremonyConfig) (*CeremonyResult, error) {
	progress := cfg.Progress
	if progress == nil {
		progress = func(string) {}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	nodes := slices.Clone(cfg.Nodes)
	slices.SortFunc(nodes, func(a, b *Node) int { return int(a.ID()) - int(b.ID()) })
	for i, n := range nodes {
		if n.ID() != uint8(i+1) {
			return nil, fmt.Errorf("ceremony: nodes must be 1..%d, found %d at position %d", len(nodes), n.ID(), i+1)
		}
	}
	res := &CeremonyResult{}

	progress("attestation")
	hellos, challenges, _, measurement, err := Attest(ctx, nodes, cfg.Attest, nil)
	if err != nil {
		return nil, err
	}
	res.Hellos, res.Challenges, res.Measurement = hellos, challenges, measurement
	peersReq := &wire.PeersRequest{Challenges: challenges}
	for _, h := range hellos {
		peersReq.Peers = append(peersReq.Peers, *h)
	}
	if _, err := parallel(nodes, func(n *Node) (struct{}, error) { return struct{}{}, n.Client.Peers(ctx, peersReq) }); err != nil {
		return nil, fmt.Errorf("peer attestation: %w", err)
	}

	progress("ML-DSA-65 distributed key generation")
	var sid [32]byte
	rand.Read(sid[:])
	results, err := runRelay(ctx, nodes, wire.ProtoMLDSADKG, sid, 6, nil)
	if err != nil {
		return nil, fmt.Errorf("ML-DSA DKG: %w", err)
	}
	if err := allEqual(nodes, results, mldsa.PublicKeySize+64); err != nil {
		return nil, fmt.Errorf("ML-DSA DKG: %w", err)
	}
	res.MLDSAPublicKey = results[0][:mldsa.PublicKeySize]
	copy(res.MLDSATranscript[:], results[0][mldsa.PublicKeySize:])

	progress("ECDSA P-384 distributed key generation")
	rand.Read(sid[:])
	if results, err = runRelay(ctx, nodes, wire.ProtoECDSADKG, sid, 6, nil); err != nil {
		return nil, fmt.Errorf("ECDSA DKG: %w", err)
	}
	if err := allEqual(nodes, results, 97+32); err != nil {
		return nil, fmt.Errorf("ECDSA DKG: %w", err)
	}
	res.ECDSAPublicKey = results[0][:97]
	copy(res.ECDSAKeyID[:], results[0][97:])

	c, err := newKeysOnly(nodes, cfg.Threshold, res.MLDSAPublicKey, res.ECDSAPublicKey, log)
	if err != nil {
		return nil, err
	}

	progress("ECDSA key confirmation by every signer subset")
	if err := c.confirmECDSA(ctx, nodes); err != nil {
		return nil, err
	}

	if cfg.TimeCheck {
		progress("cross-node time check")
		if err := ceremonyTimeCheck(ctx, nodes); err != nil {
			return nil, err
		}
	}

	progress("certification requests signed by the threshold keys")
	if res.MLDSACSR, res.ECDSACSR, err = c.signCSRs(ctx, nodes[:cfg.Threshold]); err != nil {
		return nil, err
	}

	if res.TranscriptHash, err = TranscriptHash(res); err != nil {
		return nil, err
	}
	return res, nil
}

func allEqual(nodes []*Node, results [][]byte, size int) error {
	for i, r := range results {
		if len(r) != size {
			return &NodeError{Node: nodes[i].ID(), Err: fmt.Errorf("result of %d bytes, want %d", len(r), size)}
		}
		if !bytes.Equal(r, results[0]) {
			return &NodeError{Node: nodes[i].ID(), Err: errors.New("disagrees with node 1 about the public key")}
		}
	}
	return nil
}

// newKeysOnly returns a coordinator that knows the threshold public keys
// but has no certificates yet: enough to combine signatures.
func newKeysOnly(nodes []*Node, threshold int, mldsaPub, ecdsaPub []byte, log *slog.Logger) (*Coordinator, error) {
	mpk, err := mldsa.ParsePublicKey(mldsaPub)
	if err != nil {
		return nil, err
	}
	epk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P384(), ecdsaPub)
	if err != nil {
		return nil, err
	}
	params, err := mldsa.ParamsFor(threshold, len(nodes))
	if err != nil {
		return nil, err
	}
	c := &Coordinator{
		cfg:      Config{Nodes: nodes, Threshold: threshold, SessionTimeout: 30 * time.Second, IdleAttempts: 1},
		log:      log,
		ecdsaPub: epk, mldsaPub: mpk, params: params,
		keyID: wire.ClusterKeyID(mldsaPub, ecdsaPub),
	}
	return c, nil
}

// confirmECDSA has every signer subset sign its confirmation digest with
// the new ECDSA key, then hands all signatures to every node.
func (c *Coordinator) confirmECDSA(ctx context.Context, nodes []*Node) error {
	sigs, err := c.confirmSubsets(ctx, nodes, tecdsa.Subsets())
	if err != nil {
		return err
	}
	var b cryptobyte.Builder
	for _, s := range sigs {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s) })
	}
	params := b.BytesOrPanic()
	if _, err := parallel(nodes, func(n *Node) (*wire.RelayResponse, error) {
		return n.Client.Relay(ctx, &wire.RelayRequest{Protocol: wire.ProtoECDSAConfirm, Session: [32]byte{}, Step: 2, Params: params})
	}); err != nil {
		return fmt.Errorf("key confirmation: %w", err)
	}
	return nil
}

// confirmSubsets has each subset (node ids) presign and sign its
// confirmation digest; Combine verifies each signature. It exercises every
// pairwise OT setup inside the subsets.
func (c *Coordinator) confirmSubsets(ctx context.Context, nodes []*Node, subsets [][]int) ([][]byte, error) {
	byID := map[int]*Node{}
	for _, n := range nodes {
		byID[int(n.ID())] = n
	}
	var sigs [][]byte
	for _, subset := range subsets {
		set := make([]*Node, len(subset))
		for i, id := range subset {
			if set[i] = byID[id]; set[i] == nil {
				return nil, fmt.Errorf("key confirmation: node %d is not available", id)
			}
		}
		pid, err := c.presign(ctx, set)
		if err != nil {
			return nil, fmt.Errorf("key confirmation: %w", err)
		}
		resps, err := parallel(set, func(n *Node) (*wire.RelayResponse, error) {
			return n.Client.Relay(ctx, &wire.RelayRequest{Protocol: wire.ProtoECDSAConfirm, Session: pid, Step: 1, Params: ids(set)})
		})
		if err != nil {
			return nil, fmt.Errorf("key confirmation by %v: %w", subset, err)
		}
		shares := make([]*tecdsa.SignShare, len(set))
		var keyID [32]byte
		for i, r := range resps {
			if len(r.Result) != len(keyID) || (i > 0 && !bytes.Equal(r.Result, keyID[:])) {
				return nil, &NodeError{Node: set[i].ID(), Err: errors.New("disagrees about the ECDSA key id")}
			}
			copy(keyID[:], r.Result)
			if len(r.Outbound) != 1 {
				return nil, &NodeError{Node: set[i].ID(), Err: errors.New("no confirmation share")}
			}
			want := peer.Header{Kind: wire.EnvECDSAConfirm, KeyID: c.keyID, Session: pid, Round: 1, Sender: set[i].ID(), Receiver: peer.Broadcast}
			p, err := openFrom(set[i], r.Outbound[0], want)
			if err != nil {
				return nil, err
			}
			shares[i] = new(tecdsa.SignShare)
			if err := shares[i].UnmarshalBinary(p); err != nil {
				return nil, &NodeError{Node: set[i].ID(), Err: err}
			}
		}
		sig, err := tecdsa.Combine(c.ecdsaPub, tecdsa.ConfirmationDigest(keyID, subset), shares)
		if err != nil {
			return nil, fmt.Errorf("key confirmation by %v: %w", subset, err)
		}
		sigs = append(sigs, sig)
	}
	return sigs, nil
}

// signCSRs has set sign both certification requests.
func (c *Coordinator) signCSRs(ctx context.Context, set []*Node) (mldsaCSR, ecdsaCSR []byte, err error) {
	pid, err := c.presign(ctx, set)
	if err != nil {
		return nil, nil, err
	}
	var sid wire.SessionID
	rand.Read(sid[:])
	begins, err := parallel(set, func(n *Node) (*wire.BeginResponse, error) {
		return n.Client.BeginCSR(ctx, &wire.BeginCSRRequest{Session: sid, Signers: ids(set), Presign: pid})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("CSR: %w", err)
	}
	for i, b := range begins[1:] {
		if !bytes.Equal(b.MLDSASignedAttrs, begins[0].MLDSASignedAttrs) || !bytes.Equal(b.TSTInfo, begins[0].TSTInfo) {
			return nil, nil, &NodeError{Node: set[i+1].ID(), Err: errors.New("encoded a different certification request")}
		}
	}
	first := make([][]byte, len(set))
	for i, b := range begins {
		first[i] = b.Round1
	}
	sig, _, err := c.signMLDSA(ctx, set, sid, begins[0].MLDSASignedAttrs, first)
	if err != nil {
		endSession(set, sid)
		return nil, nil, fmt.Errorf("CSR: %w", err)
	}
	att, err := parallel(set, func(n *Node) (*wire.AttachResponse, error) {
		return n.Client.Attach(ctx, &wire.AttachRequest{Session: sid, MLDSASignature: sig})
	})
	if err != nil {
		endSession(set, sid)
		return nil, nil, fmt.Errorf("CSR: %w", err)
	}
	esig, err := c.combineECDSA(set, sid, att[0].ECDSASignedAttrs, att)
	if err != nil {
		return nil, nil, fmt.Errorf("CSR: %w", err)
	}
	ecdsaCSR, err = tst.CertificationRequest(att[0].ECDSASignedAttrs, tst.OIDECDSAWithSHA384, esig)
	if err != nil {
		return nil, nil, err
	}
	return att[0].InnerToken, ecdsaCSR, nil
}

// InstallRequestFor returns the request that gives oracles the TSA
// certificates ec (ECDSA) and mc (ML-DSA).
func InstallRequestFor(ec, mc *x509.Certificate) *wire.InstallRequest {
	ref := func(c *x509.Certificate) wire.CertInfo {
		s := c.SerialNumber.Bytes()
		if s[0]&0x80 != 0 {
			s = append([]byte{0}, s...)
		}
		return wire.CertInfo{Certificate: c.Raw, Issuer: c.RawIssuer, Serial: s}
	}
	return &wire.InstallRequest{ECDSA: ref(ec), MLDSA: ref(mc)}
}

// InstallCertificates installs the TSA certificates on every node.
func InstallCertificates(ctx context.Context, nodes []*Node, req *wire.InstallRequest) error {
	_, err := parallel(nodes, func(n *Node) (struct{}, error) { return struct{}{}, n.Client.Install(ctx, req) })
	return err
}

// Hellos asks every reachable node for its identity and attestation
// evidence bound to nonce (for GET /attest). Nodes that do not answer are
// left out; it fails only if none answers.
func (c *Coordinator) Hellos(ctx context.Context, nonce [wire.NonceSize]byte) ([]*wire.Hello, error) {
	nodes := c.Nodes()
	hellos, errs := parallelAll(nodes, func(n *Node) (*wire.Hello, error) { return n.Client.Hello(ctx, &wire.HelloRequest{Nonce: nonce}) })
	var out []*wire.Hello
	var firstErr error
	for i, h := range hellos {
		if errs[i] != nil {
			if firstErr == nil {
				firstErr = &NodeError{Node: nodes[i].ID(), Err: errs[i]}
			}
			continue
		}
		out = append(out, h)
	}
	if len(out) == 0 {
		return nil, firstErr
	}
	return out, nil
}

// ceremonyTimeCheck runs time-check rounds until every node's peers agree
// with its clock (a verdict needs a completed exchange, so at least two
// rounds), or fails naming the nodes that do not.
func ceremonyTimeCheck(ctx context.Context, nodes []*Node) error {
	var last map[uint8]bool
	for round := 1; round <= 6; round++ {
		v, err := timeCheck(ctx, nodes)
		if err != nil {
			return fmt.Errorf("cross-node time check: %w", err)
		}
		last = v
		all := true
		for _, ok := range v {
			all = all && ok
		}
		if all && round >= 2 {
			return nil
		}
	}
	var bad []uint8
	for id, ok := range last {
		if !ok {
			bad = append(bad, id)
		}
	}
	slices.Sort(bad)
	return fmt.Errorf("cross-node time check: the peers of nodes %v do not agree with their clocks", bad)
}
