// Package coordinator runs signing sessions across the oracles: it picks a
// signing set and a leader, relays the rounds of both signature schemes,
// combines and verifies the signatures, and assembles the token. It keeps
// per-oracle health and the ECDSA presignature pools. It holds no secrets
// and decides nothing that is signed; the worst a faulty coordinator can do
// is fail to issue tokens.
package coordinator

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/dkg/mldsa"
	"github.com/cc-tsa/cc-tsa/wrapper/oracleclient"
	"github.com/cc-tsa/cc-tsa/wrapper/token"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify"
)

// Health policy: after failuresToBench consecutive failures a node is set
// aside for a backoff that doubles up to maxBench; a status poll or a
// successful session brings it back afterwards.
const (
	failuresToBench = 2
	minBench        = 2 * time.Second
	maxBench        = 60 * time.Second
)

// Node is one oracle as the coordinator sees it.
type Node struct {
	Client *oracleclient.Client

	mu       sync.Mutex
	status   *wire.Status
	err      error
	seen     time.Time
	identity *peer.PublicKeys
	failures int
	bench    time.Duration
	benched  time.Time // set aside until then
	lastFail string
}

// Status returns the node's last known status, the error of the last status
// poll if it failed, and when the status was last read.
func (n *Node) Status() (*wire.Status, error, time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.status, n.err, n.seen
}

// ID returns the node id from its last status, or 0.
func (n *Node) ID() uint8 {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.status == nil {
		return 0
	}
	return n.status.NodeID
}

// SetStatus records a status read outside Poll.
func (n *Node) SetStatus(s *wire.Status) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.status, n.err, n.seen = s, nil, time.Now()
}

// Identity returns the node's attested identity keys, if known.
func (n *Node) Identity() *peer.PublicKeys {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.identity
}

// SetIdentity records the node's identity keys after its attestation was
// verified.
func (n *Node) SetIdentity(p peer.PublicKeys) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.identity = &p
}

// Health describes a node's standing with the coordinator.
type Health struct {
	Failures int
	Benched  bool
	LastFail string
}

// Health returns the node's failure count and whether it is set aside.
func (n *Node) Health() Health {
	n.mu.Lock()
	defer n.mu.Unlock()
	return Health{Failures: n.failures, Benched: time.Now().Before(n.benched), LastFail: n.lastFail}
}

func (n *Node) fail(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failures++
	n.lastFail = err.Error()
	if n.failures >= failuresToBench {
		if n.bench == 0 {
			n.bench = minBench
		} else {
			n.bench = min(2*n.bench, maxBench)
		}
		n.benched = time.Now().Add(n.bench)
	}
}

func (n *Node) succeed() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failures, n.bench = 0, 0
}

// Ready reports whether the node can sign now.
func (n *Node) Ready() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.err == nil && n.status != nil && n.status.State == wire.StateReady && n.status.ClockTrusted &&
		!time.Now().Before(n.benched)
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
	// SessionTimeout bounds one signing attempt on one signer set.
	SessionTimeout time.Duration
	// PresignPool is the number of ECDSA presignatures kept per signer set
	// (threshold mode); 0 means 4.
	PresignPool int
	// IdleAttempts is how many ML-DSA attempts a session keeps running at
	// once while it is the only session in flight (1 or 2; 0 means 1).
	// Each attempt succeeds with probability about 1/2, so 2 cuts the
	// latency of a lone token when the signers have CPUs of their own, at
	// the price of about one more attempt's work per token; when they share
	// a few cores (all oracles on one small machine) the two attempts only
	// slow each other down.
	IdleAttempts int
	// TimeCheck runs the cross-node time check every TimeCheckInterval
	// (threshold clusters whose oracles require their peers' verdict).
	TimeCheck bool
	Logger    *slog.Logger
}

// Coordinator issues tokens. It is safe for concurrent use.
type Coordinator struct {
	nodesMu   sync.Mutex // guards cfg.Nodes, which Replace changes
	cfg       Config
	log       *slog.Logger
	assembler *token.Assembler
	ecdsaPub  *ecdsa.PublicKey
	mldsaPub  *mldsa.PublicKey
	params    mldsa.Params
	keyID     [32]byte
	verify    tsverify.Options
	next      atomic.Uint64
	pool      *presignPool
	stats     Stats
	inflight  atomic.Int32 // signing sessions in progress
	lastDone  atomic.Int64 // when a signing session last ended (Unix ns)
}

// Stats counts what the coordinator did.
type Stats struct {
	Sessions       atomic.Uint64
	MLDSAAttempts  atomic.Uint64
	Retries        atomic.Uint64
	Presignatures  atomic.Uint64
	RelayedBytes   atomic.Uint64
	InlinePresigns atomic.Uint64
	// StageNanos is the wall time threshold signing sessions spent in each
	// Stage, summed over sessions (failed ones included).
	StageNanos [NumStages]atomic.Uint64
}

// Stage is a step of a threshold signing session.
type Stage int

// The stages of a threshold signing session, in order.
const (
	StagePresign Stage = iota // taking a pooled presignature (or making one inline)
	StagePropose              // the leader's proposal
	StageBegin                // every signer checks the proposal, encodes the TSTInfo, commits
	StageMLDSA                // ML-DSA attempts until one combines
	StageAttach               // every signer verifies the ML-DSA signature, encodes the inner token, signs its ECDSA share
	StageECDSA                // combining and verifying the ECDSA shares
	StageVerify               // assembly and verification of the released token
	NumStages
)

var stageNames = [NumStages]string{"presign", "propose", "begin", "mldsa", "attach", "ecdsa", "verify"}

// String returns the stage's name as used in metrics labels.
func (s Stage) String() string {
	if s < 0 || s >= NumStages {
		return "stage(" + strconv.Itoa(int(s)) + ")"
	}
	return stageNames[s]
}

// lap adds the time since *t to stage s and moves *t to now.
func (st *Stats) lap(s Stage, t *time.Time) {
	now := time.Now()
	st.StageNanos[s].Add(uint64(now.Sub(*t)))
	*t = now
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
	mpkCircl, err := tsverify.MLDSAPublicKey(cfg.MLDSACert)
	if err != nil {
		return nil, fmt.Errorf("coordinator: ML-DSA TSA certificate: %w", err)
	}
	mpub, _ := mpkCircl.MarshalBinary()
	mpk, err := mldsa.ParsePublicKey(mpub)
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
	if cfg.PresignPool <= 0 {
		cfg.PresignPool = 4
	}
	switch {
	case cfg.IdleAttempts <= 0:
		cfg.IdleAttempts = 1
	case cfg.IdleAttempts > MaxConcurrentAttempts:
		return nil, fmt.Errorf("coordinator: %d idle attempts; the oracles run at most %d at once", cfg.IdleAttempts, MaxConcurrentAttempts)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	epub, _ := pub.Bytes()
	c := &Coordinator{
		cfg:       cfg,
		log:       log.With("component", "coordinator"),
		assembler: asm,
		ecdsaPub:  pub,
		mldsaPub:  mpk,
		keyID:     wire.ClusterKeyID(mpub, epub),
		verify:    tsverify.Options{PinnedECDSA: cfg.ECDSACert, PinnedMLDSA: cfg.MLDSACert},
	}
	if c.threshold() {
		if c.params, err = mldsa.ParamsFor(cfg.Threshold, len(cfg.Nodes)); err != nil {
			return nil, fmt.Errorf("coordinator: %w", err)
		}
		c.pool = newPresignPool(c, cfg.PresignPool)
	}
	return c, nil
}

func (c *Coordinator) threshold() bool { return len(c.cfg.Nodes) > 1 || c.cfg.Threshold > 1 }

// Nodes returns the coordinator's nodes.
func (c *Coordinator) Nodes() []*Node {
	c.nodesMu.Lock()
	defer c.nodesMu.Unlock()
	return slices.Clone(c.cfg.Nodes)
}

func (c *Coordinator) ecdsaPubBytes() []byte {
	b, _ := c.ecdsaPub.Bytes()
	return b
}

// Threshold returns the number of signers per token.
func (c *Coordinator) Threshold() int { return c.cfg.Threshold }

// Stats returns the coordinator's counters.
func (c *Coordinator) Stats() *Stats { return &c.stats }

// PoolLevel returns the number of pooled presignatures over all signer sets.
func (c *Coordinator) PoolLevel() int {
	if c.pool == nil {
		return 0
	}
	return c.pool.level()
}

// Poll refreshes every node's status once.
func (c *Coordinator) Poll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, n := range c.Nodes() {
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

// Run polls node status every interval and, in threshold mode, keeps the
// presignature pools filled, until ctx is done.
func (c *Coordinator) Run(ctx context.Context, interval time.Duration) {
	if c.pool != nil {
		go c.pool.run(ctx)
	}
	if c.cfg.TimeCheck {
		go c.runTimeChecks(ctx)
	}
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

// ReadyNodes returns the nodes that are ready to sign, in node-id order.
func (c *Coordinator) ReadyNodes() []*Node {
	var r []*Node
	for _, n := range c.Nodes() {
		if n.Ready() {
			r = append(r, n)
		}
	}
	slices.SortFunc(r, func(a, b *Node) int { return int(a.ID()) - int(b.ID()) })
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
	Token    []byte // DER ContentInfo
	TSTInfo  []byte
	Info     *tsverify.Info
	Signers  []uint8
	Attempts int // ML-DSA attempts
}

// maxSets bounds the signer sets one request tries.
const maxSets = 3

var culpritRE = regexp.MustCompile(`culprit node (\d+)`)

// Issue runs a signing session for f and returns the verified token. When
// a session fails it retries with another signer set, leaving out the node
// that failed.
func (c *Coordinator) Issue(ctx context.Context, f *wire.TokenFields) (*Issued, error) {
	c.inflight.Add(1)
	defer func() {
		c.lastDone.Store(time.Now().UnixNano())
		c.inflight.Add(-1)
	}()
	var excluded []uint8
	var lastErr error
	for try := 0; try < maxSets; try++ {
		set := c.chooseSet(f, excluded)
		if set == nil {
			if lastErr != nil {
				return nil, fmt.Errorf("%w (after: %v)", ErrNoQuorum, lastErr)
			}
			return nil, ErrNoQuorum
		}
		if try > 0 {
			c.stats.Retries.Add(1)
		}
		sctx, cancel := context.WithTimeout(ctx, c.cfg.SessionTimeout)
		var iss *Issued
		var err error
		if c.threshold() {
			iss, err = c.thresholdSession(sctx, set, f)
		} else {
			iss, err = c.session(sctx, set, f)
		}
		cancel()
		if err == nil {
			for _, n := range set {
				n.succeed()
			}
			c.stats.Sessions.Add(1)
			return iss, nil
		}
		var we *wire.Error
		if errors.As(err, &we) && we.Code == wire.CodeTimeNotAvailable {
			return nil, fmt.Errorf("%w: %v", ErrTimeNotAvailable, err)
		}
		if ctx.Err() != nil {
			return nil, err
		}
		lastErr = err
		bad := c.blame(set, err)
		c.log.Warn("signing session failed; retrying with another set", "set", ids(set), "blamed", bad, "err", err)
		if bad != 0 {
			excluded = append(excluded, bad)
		}
	}
	return nil, lastErr
}

// blame marks the node a failure points at and returns its id (0 if none).
// An oracle that answers busy (its bounded tables are full) is pushing
// back, not failing: it is not blamed.
func (c *Coordinator) blame(set []*Node, err error) uint8 {
	var id uint8
	if we := (*wire.Error)(nil); (errors.As(err, &we) && we.Code == wire.CodeBusy) || errors.Is(err, errLateProposal) {
		return 0
	}
	if m := culpritRE.FindStringSubmatch(err.Error()); m != nil {
		v, _ := strconv.Atoi(m[1])
		id = uint8(v)
	} else if ne := (*NodeError)(nil); errors.As(err, &ne) {
		id = ne.Node
	}
	for _, n := range c.Nodes() {
		if n.ID() == id && id != 0 {
			n.fail(err)
		}
	}
	return id
}

func ids(set []*Node) []uint8 {
	out := make([]uint8, len(set))
	for i, n := range set {
		out[i] = n.ID()
	}
	return out
}

// chooseSet picks Threshold ready nodes, not excluded, in id order. It
// rotates over the possible sets and, for hybrid tokens, prefers sets with
// a pooled presignature.
func (c *Coordinator) chooseSet(f *wire.TokenFields, excluded []uint8) []*Node {
	var ready []*Node
	for _, n := range c.ReadyNodes() {
		if !slices.Contains(excluded, n.ID()) {
			ready = append(ready, n)
		}
	}
	if len(ready) < c.cfg.Threshold {
		return nil
	}
	sets := subsets(ready, c.cfg.Threshold)
	start := int(c.next.Add(1) % uint64(len(sets)))
	if c.pool != nil && f.Policy == wire.PolicyHybrid {
		for i := range sets {
			s := sets[(start+i)%len(sets)]
			if c.pool.has(s) {
				return s
			}
		}
	}
	return sets[start]
}

// subsets returns all k-subsets of nodes, preserving order.
func subsets(nodes []*Node, k int) [][]*Node {
	var out [][]*Node
	var rec func(start int, cur []*Node)
	rec = func(start int, cur []*Node) {
		if len(cur) == k {
			out = append(out, slices.Clone(cur))
			return
		}
		for i := start; i < len(nodes); i++ {
			rec(i+1, append(cur, nodes[i]))
		}
	}
	rec(0, nil)
	return out
}
