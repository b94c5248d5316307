package coordinator

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/token"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify"
)

// signer is one member of a session's signing set.
type signer struct {
	node *Node
	id   uint8
}

// session runs a signing session in the single-oracle development mode,
// where each scheme has a single round whose message is the signature.
func (c *Coordinator) session(ctx context.Context, set []*Node, f *wire.TokenFields) (*Issued, error) {
	signers := make([]signer, len(set))
	ids := make([]uint8, len(set))
	for i, n := range set {
		s, _, _ := n.Status()
		signers[i] = signer{n, s.NodeID}
		ids[i] = s.NodeID
	}
	leader := signers[0]
	prop, err := leader.node.Client.Propose(ctx, &wire.ProposeRequest{Signers: ids, Fields: *f})
	if err != nil {
		return nil, fmt.Errorf("coordinator: leader %d: propose: %w", leader.id, err)
	}
	var sid wire.SessionID
	rand.Read(sid[:])
	begun := make([]*signer, 0, len(signers))
	defer func() {
		// Best effort: free the session on every signer that still holds it.
		for _, s := range begun {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			s.node.Client.End(ctx, sid)
			cancel()
		}
	}()

	// Begin: every signer checks the proposal and encodes the TSTInfo.
	var tstInfo, mldsaAttrs []byte
	for i := range signers {
		s := &signers[i]
		r, err := s.node.Client.Begin(ctx, &wire.BeginRequest{Session: sid, Signers: ids, Fields: *f, Proposal: *prop})
		if err != nil {
			return nil, fmt.Errorf("coordinator: signer %d: begin: %w", s.id, err)
		}
		begun = append(begun, s)
		if tstInfo == nil {
			tstInfo, mldsaAttrs = r.TSTInfo, r.MLDSASignedAttrs
		} else if !bytes.Equal(tstInfo, r.TSTInfo) || !bytes.Equal(mldsaAttrs, r.MLDSASignedAttrs) {
			return nil, fmt.Errorf("coordinator: signer %d encoded a different TSTInfo", s.id)
		}
	}

	// ML-DSA-65 over the inner signed attributes.
	sig, err := c.runScheme(ctx, sid, signers, wire.SchemeMLDSA65)
	if err != nil {
		return nil, err
	}
	if !c.mldsaPub.Verify(mldsaAttrs, nil, sig) {
		return nil, errors.New("coordinator: combined ML-DSA-65 signature does not verify")
	}

	// Attach: the signer verifies the signature, encodes the inner token
	// and the outer signed attributes, and signs those with ECDSA (whole
	// key: its answer is the signature). The session ends with it.
	s := &signers[0] // runScheme allows exactly one
	r, err := s.node.Client.Attach(ctx, &wire.AttachRequest{Session: sid, MLDSASignature: sig})
	if err != nil {
		return nil, fmt.Errorf("coordinator: signer %d: attach: %w", s.id, err)
	}
	begun = nil // the session ended on the signer with its Attach
	inner, ecdsaAttrs, esig := r.InnerToken, r.ECDSASignedAttrs, r.ECDSA

	tok := inner
	if f.Policy == wire.PolicyHybrid {
		if ecdsaAttrs == nil {
			return nil, errors.New("coordinator: oracles returned no ECDSA signed attributes for a hybrid token")
		}
		d := sha512.Sum384(ecdsaAttrs)
		if !ecdsa.VerifyASN1(c.ecdsaPub, d[:], esig) {
			return nil, errors.New("coordinator: combined ECDSA P-384 signature does not verify")
		}
		tok, err = c.assembler.Hybrid(&token.Parts{
			TSTInfo: tstInfo, ECDSASignedAttrs: ecdsaAttrs, ECDSASignature: esig, InnerToken: inner,
		}, f.CertReq)
		if err != nil {
			return nil, err
		}
	}

	// Verify the exact bytes to be released, with the same code clients use.
	res, err := tsverify.VerifyToken(tok, &c.verify)
	if err != nil {
		return nil, fmt.Errorf("coordinator: token failed verification before release: %w", err)
	}
	return &Issued{Token: tok, TSTInfo: tstInfo, Info: res.Info, Signers: ids}, nil
}

// runScheme relays the rounds of one signature scheme and combines the
// result. In the whole-key development mode a scheme has a single round
// whose only message is the signature itself.
func (c *Coordinator) runScheme(ctx context.Context, sid wire.SessionID, signers []signer, scheme wire.Scheme) ([]byte, error) {
	if len(signers) != 1 {
		return nil, fmt.Errorf("coordinator: %v threshold signing with %d signers is not available in this build", scheme, len(signers))
	}
	s := signers[0]
	r, err := s.node.Client.Round(ctx, &wire.RoundRequest{Session: sid, Scheme: scheme, Round: 1})
	if err != nil {
		return nil, fmt.Errorf("coordinator: signer %d: %v round 1: %w", s.id, scheme, err)
	}
	return r.Payload, nil
}
