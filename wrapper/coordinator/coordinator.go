// Package coordinator runs signing sessions across the oracles: it picks a
// signing set and a leader, relays the rounds of both signature schemes,
// combines and verifies the signatures, and assembles the token. It holds no
// secrets and decides nothing that is signed; the worst a faulty coordinator
// can do is fail to issue tokens.
package coordinator

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/oracleclient"
	"github.com/cc-tsa/cc-tsa/wrapper/token"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

// Node is one oracle as the coordinator sees it.
type Node struct {
	Client *oracleclient.Client

	mu     sync.Mutex
	status *wire.Status
	err    error
	seen   time.Time
}

// Status returns the node's last known status and the error of the last
// status poll, if it failed.
func (n *Node) Status() (*wire.Status, error, time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.status, n.err, n.seen
}

func (n *Node) ready() bool {
	s, err, _ := n.Status()
	return err == nil && s != nil && s.State == wire.StateReady && s.ClockTrusted
}

// Config configures a coordinator.
type Config struct {
	Nodes     []*Node
	Threshold int
	// ECDSACert and MLDSACert are the TSA certificates; Intermediates are
	// included with the ECDSA certificate when a request asks for
	// certificates.
	ECDSACert, MLDSACert *x509.Certificate
	Intermediates        []*x509.Certificate
	// SessionTimeout bounds one signing attempt.
	SessionTimeout time.Duration
	Logger         *slog.Logger
}

// Coordinator issues tokens. It is safe for concurrent use.
type Coordinator struct {
	cfg       Config
	log       *slog.Logger
	assembler *token.Assembler
	ecdsaPub  *ecdsa.PublicKey
	mldsaPub  *mldsa65.PublicKey
	verify    tsverify.Options
	next      atomic.Uint64
}

// New checks cfg and returns a coordinator.
func New(cfg Config) (*Coordinator, error) {
	if len(cfg.Nodes) == 0 || cfg.Threshold < 1 || cfg.Threshold > len(cfg.Nodes) {
		return nil, fmt.Errorf("coordinator: %d-of-%d is not a valid signing configuration", cfg.Threshold, len(cfg.Nodes))
	}
	if cfg.ECDSACert == nil || cfg.MLDSACert == nil {
		return nil, errors.New("coordinator: TSA certificates missing")
	}
	pub, ok := cfg.ECDSACert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P384() {
		return nil, errors.New("coordinator: ECDSA TSA certificate does not hold a P-384 key")
	}
	mpk, err := tsverify.MLDSAPublicKey(cfg.MLDSACert)
	if err != nil {
		return nil, fmt.Errorf("coordinator: ML-DSA TSA certificate: %w", err)
	}
	asm, err := token.NewAssembler(cfg.ECDSACert, cfg.Intermediates)
	if err != nil {
		return nil, err
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Coordinator{
		cfg:       cfg,
		log:       log.With("component", "coordinator"),
		assembler: asm,
		ecdsaPub:  pub,
		mldsaPub:  mpk,
		verify:    tsverify.Options{PinnedECDSA: cfg.ECDSACert, PinnedMLDSA: cfg.MLDSACert},
	}, nil
}

// Nodes returns the coordinator's nodes.
func (c *Coordinator) Nodes() []*Node { return c.cfg.Nodes }

// Threshold returns the number of signers per token.
func (c *Coordinator) Threshold() int { return c.cfg.Threshold }

// Poll refreshes every node's status once.
func (c *Coordinator) Poll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, n := range c.cfg.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			s, err := n.Client.Status(ctx)
			n.mu.Lock()
			defer n.mu.Unlock()
			if err != nil {
				n.err = err
				return
			}
			n.status, n.err, n.seen = s, nil, time.Now()
		}()
	}
	wg.Wait()
}

// Watch polls node status every interval until ctx is done.
func (c *Coordinator) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.Poll(ctx)
		}
	}
}

// ReadyNodes returns the nodes that are ready to sign.
func (c *Coordinator) ReadyNodes() []*Node {
	var r []*Node
	for _, n := range c.cfg.Nodes {
		if n.ready() {
			r = append(r, n)
		}
	}
	return r
}

// Ready reports whether enough nodes are ready to sign.
func (c *Coordinator) Ready() bool { return len(c.ReadyNodes()) >= c.cfg.Threshold }

// Refusal errors.
var (
	// ErrNoQuorum means fewer than Threshold oracles are ready.
	ErrNoQuorum = errors.New("coordinator: not enough oracles are ready to sign")
	// ErrTimeNotAvailable means the oracles refused for lack of trusted time.
	ErrTimeNotAvailable = errors.New("coordinator: oracles have no trusted time")
)

// Issued is one issued token.
type Issued struct {
	Token   []byte // DER ContentInfo
	TSTInfo []byte
	Info    *tsverify.Info
	Signers []uint8
}

// Issue runs one signing session for f and returns the verified token.
func (c *Coordinator) Issue(ctx context.Context, f *wire.TokenFields) (*Issued, error) {
	ready := c.ReadyNodes()
	if len(ready) < c.cfg.Threshold {
		return nil, ErrNoQuorum
	}
	// Rotate the signing set and leader across requests.
	start := int(c.next.Add(1) % uint64(len(ready)))
	set := make([]*Node, 0, c.cfg.Threshold)
	for i := 0; i < c.cfg.Threshold; i++ {
		set = append(set, ready[(start+i)%len(ready)])
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.SessionTimeout)
	defer cancel()
	iss, err := c.session(ctx, set, f)
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) && we.Code == wire.CodeTimeNotAvailable {
			return nil, fmt.Errorf("%w: %v", ErrTimeNotAvailable, err)
		}
		return nil, err
	}
	return iss, nil
}

// signer is one member of a session's signing set.
type signer struct {
	node *Node
	id   uint8
}

func (c *Coordinator) session(ctx context.Context, set []*Node, f *wire.TokenFields) (*Issued, error) {
	signers := make([]signer, len(set))
	ids := make([]uint8, len(set))
	for i, n := range set {
		s, _, _ := n.Status()
		signers[i] = signer{n, s.NodeID}
		ids[i] = s.NodeID
	}
	leader := signers[0]
	prop, err := leader.node.Client.Propose(ctx, f)
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
	if !mldsa65.Verify(c.mldsaPub, mldsaAttrs, nil, sig) {
		return nil, errors.New("coordinator: combined ML-DSA-65 signature does not verify")
	}

	// Attach: every signer verifies the signature and encodes the inner
	// token and the outer signed attributes.
	var inner, ecdsaAttrs []byte
	for i := range signers {
		s := &signers[i]
		r, err := s.node.Client.Attach(ctx, &wire.AttachRequest{Session: sid, MLDSASignature: sig})
		if err != nil {
			return nil, fmt.Errorf("coordinator: signer %d: attach: %w", s.id, err)
		}
		if inner == nil {
			inner, ecdsaAttrs = r.InnerToken, r.ECDSASignedAttrs
		} else if !bytes.Equal(inner, r.InnerToken) || !bytes.Equal(ecdsaAttrs, r.ECDSASignedAttrs) {
			return nil, fmt.Errorf("coordinator: signer %d encoded a different inner token", s.id)
		}
	}

	tok := inner
	if f.Policy == wire.PolicyHybrid {
		if ecdsaAttrs == nil {
			return nil, errors.New("coordinator: oracles returned no ECDSA signed attributes for a hybrid token")
		}
		esig, err := c.runScheme(ctx, sid, signers, wire.SchemeECDSA384)
		if err != nil {
			return nil, err
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
	begun = nil // sessions ended on the signers with their last round

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
