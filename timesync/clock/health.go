package clock

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cc-tsa/cc-tsa/timesync/interval"
)

// State is the node clock's health state.
type State int

// Health states. A node signs only while Trusted.
const (
	Untrusted State = iota
	Trusted
)

func (s State) String() string {
	if s == Trusted {
		return "trusted"
	}
	return "untrusted"
}

// Config holds the health thresholds (trusted-time.md §5.3–5.4). Durations
// are measured on the monotonic clock.
type Config struct {
	// MaxRate is the largest acceptable |rate| of the local clock against
	// NTS (default 50 ppm). It is also the drift assumed between syncs.
	MaxRate float64
	// MaxError is the largest error bound (half-width) at which the node is
	// still trusted (default 1 s).
	MaxError time.Duration
	// MaxSyncAge: the last agreeing NTS quorum must be at most this old
	// (default 5 min).
	MaxSyncAge time.Duration
	// MinRateSpan, if non-zero, requires a converged rate estimate covering at
	// least this span before the node becomes trusted (production: ≥ 15 min).
	MinRateSpan time.Duration
	// RequirePeers requires a positive cross-node verdict (package
	// crosscheck) at most PeerMaxAge old (default 10 s).
	RequirePeers bool
	PeerMaxAge   time.Duration
	// SelfTaintPeriod forces re-verification: after this long trusted, the
	// node taints itself until fresh evidence arrives — a fresh peer verdict
	// when RequirePeers is set, otherwise a fresh NTS quorum (default 60 s).
	SelfTaintPeriod time.Duration
	// AllowDevPlatform lets a node that is not an SEV-SNP guest become
	// trusted on the ordinary monotonic clock; its label then says "not
	// SecureTSC". An SEV-SNP guest whose platform is not sound never becomes
	// trusted, whatever this says.
	AllowDevPlatform bool
	// ReadError is added to every error bound for clock-read latency
	// (default 1 µs).
	ReadError time.Duration
	// ReferenceBase is added to the monotonic clock to form the reference
	// clock NTS offsets are measured against (default: host wall clock at
	// construction; any value works, it is corrected by the offsets).
	ReferenceBase int64
	// BuildFloor is the earliest plausible time (Unix ns), e.g. the image
	// build time; certificate checks never use an earlier time.
	BuildFloor int64
	// OnChange, if set, is called (without locks held) on every state change.
	OnChange func(from, to State, reason string)
}

func (c *Config) defaults() {
	if c.MaxRate == 0 {
		c.MaxRate = 50e-6
	}
	if c.MaxError == 0 {
		c.MaxError = time.Second
	}
	if c.MaxSyncAge == 0 {
		c.MaxSyncAge = 5 * time.Minute
	}
	if c.PeerMaxAge == 0 {
		c.PeerMaxAge = 10 * time.Second
	}
	if c.SelfTaintPeriod == 0 {
		c.SelfTaintPeriod = 60 * time.Second
	}
	if c.ReadError == 0 {
		c.ReadError = time.Microsecond
	}
}

// Reading is the clock's answer at one instant.
type Reading struct {
	State  State
	Reason string // why untrusted ("" when trusted)
	// Time is the UTC estimate (Unix ns) and Error its bound (ns): the true
	// time lies in [Time − Error, Time + Error] if the assumptions hold.
	// Both are zero before the first NTS sync.
	Time  int64
	Error int64
	// AccuracyMicros is Error rounded up to microseconds (RFC 3161 accuracy).
	AccuracyMicros int64
	// Mono is the monotonic reading the values refer to.
	Mono int64
	// Label describes the monotonic source ("SecureTSC …" or "not SecureTSC …").
	Label string
}

// Trusted reports whether the node may sign with this reading.
func (r Reading) Trusted() bool { return r.State == Trusted }

// ErrUntrusted is returned by GenTime while the clock is untrusted.
var ErrUntrusted = errors.New("clock: time not available (clock untrusted)")

// Health is the node clock's health state machine (untrusted → trusted →
// untrusted). It is fed by NTS results, rate estimates and peer verdicts and
// consulted by the oracle. It is safe for concurrent use.
type Health struct {
	cfg  Config
	mono Monotonic
	plat *Platform

	mu         sync.Mutex
	state      State
	reason     string
	taintedAt  int64 // monotonic time of the last taint
	taintNTS   bool  // the last taint needs a fresh NTS quorum to clear
	trustedAt  int64
	haveAnchor bool
	anchorMono int64
	anchor     interval.Interval // offset (UTC − reference) at anchorMono
	lastSync   int64
	syncOK     int // consecutive consistent NTS results since the last taint
	rate       *interval.Rate
	rateBad    bool
	lastPeer   int64
	peerOK     bool
	peerDetail string
	havePeer   bool
	lastGen    int64
	lastReason string
}

// NewHealth returns a health state machine in the Untrusted state.
func NewHealth(cfg Config, mono Monotonic, plat *Platform) (*Health, error) {
	if mono == nil || plat == nil {
		return nil, errors.New("clock: NewHealth needs a monotonic source and a platform report")
	}
	cfg.defaults()
	if cfg.ReferenceBase == 0 {
		cfg.ReferenceBase = time.Now().UnixNano() - mono.Now()
	}
	if cfg.MaxRate < 0 || cfg.MaxError < 0 {
		return nil, errors.New("clock: negative thresholds")
	}
	h := &Health{cfg: cfg, mono: mono, plat: plat, reason: "no NTS sync yet", taintNTS: true}
	h.taintedAt = mono.Now()
	return h, nil
}

// Platform returns the platform report the health machine was built with.
func (h *Health) Platform() *Platform { return h.plat }

// Reference returns the reference clock (Unix-ns scale, monotonic) that NTS
// clients must use for T1/T4 (nts.ClientConfig.Now).
func (h *Health) Reference() int64 { return h.cfg.ReferenceBase + h.mono.Now() }

// ReferenceBase returns the constant offset between the reference clock and
// the monotonic clock (Reference() = ReferenceBase() + monotonic).
func (h *Health) ReferenceBase() int64 { return h.cfg.ReferenceBase }

// PeerClock returns the node's current estimate and error bound for the
// cross-node check (crosscheck.Clock); ok is false before the first NTS
// anchor. An anchored but untrusted node still answers its peers: it needs
// their verdict to become trusted.
func (h *Health) PeerClock() (t, e int64, ok bool) {
	r := h.Read()
	return r.Time, r.Error, r.Time != 0
}

// CertTime returns the time for checking NTS-KE certificates: the best
// current estimate, never earlier than BuildFloor.
func (h *Health) CertTime() time.Time {
	r := h.Read()
	t := r.Time
	if t == 0 {
		t = h.Reference()
	}
	return time.Unix(0, max(t, h.cfg.BuildFloor))
}

// ObserveNTS feeds the combined interval of an agreeing NTS quorum, measured
// (offset = UTC − reference) at monotonic time mono. A result inconsistent
// with the current anchor (a step) taints the node.
func (h *Health) ObserveNTS(res interval.Result, mono int64) {
	h.update(func() string {
		iv := res.Interval
		if !iv.Valid() {
			return "invalid NTS interval"
		}
		if h.haveAnchor {
			pred := h.anchor.Widen(h.drift(mono - h.anchorMono))
			if x, ok := pred.Intersect(iv); ok {
				h.anchor, h.anchorMono = x, mono
				h.lastSync = mono
				h.syncOK++
				return ""
			}
			h.anchor, h.anchorMono, h.lastSync, h.syncOK = iv, mono, mono, 0
			return fmt.Sprintf("NTS time step: %v inconsistent with predicted %v", iv, pred)
		}
		h.anchor, h.anchorMono, h.haveAnchor, h.lastSync, h.syncOK = iv, mono, true, mono, 0
		return ""
	})
}

// ObserveNTSFailure records that no NTS quorum agreed (or no server could be
// reached): no majority means no time, the node is tainted.
func (h *Health) ObserveNTSFailure(err error) {
	h.update(func() string { return "NTS: " + err.Error() })
}

// ObserveRate feeds a rate estimate; a rate proven out of bounds keeps the
// node untrusted until an in-bound estimate arrives.
func (h *Health) ObserveRate(r interval.Rate) {
	h.update(func() string {
		h.rate = &r
		h.rateBad = !r.Within(h.cfg.MaxRate)
		return "" // a condition, not a taint: an in-bound estimate clears it
	})
}

// ObservePeers feeds the cross-node verdict at monotonic time mono; a
// negative verdict keeps the node untrusted until a positive one arrives.
func (h *Health) ObservePeers(ok bool, mono int64, detail string) {
	h.update(func() string {
		h.havePeer, h.peerOK, h.lastPeer, h.peerDetail = true, ok, mono, detail
		return "" // a condition, not a taint: a positive verdict clears it
	})
}

// Taint makes the node untrusted until fresh evidence arrives.
func (h *Health) Taint(reason string) { h.update(func() string { return reason }) }

// update runs f under the lock; a non-empty result taints the node.
func (h *Health) update(f func() string) {
	h.mu.Lock()
	now := h.mono.Now()
	if r := f(); r != "" {
		h.taintLocked(now, r, true)
	}
	cb := h.evalLocked(now)
	h.mu.Unlock()
	if cb != nil {
		cb()
	}
}

// taintLocked records a taint at now. needNTS says whether clearing it needs
// a fresh NTS quorum; fresh peer evidence is always needed when peers are
// required.
func (h *Health) taintLocked(now int64, reason string, needNTS bool) {
	h.taintedAt = now
	h.taintNTS = needNTS
	h.lastReason = reason
}

func (h *Health) drift(d int64) int64 {
	if d < 0 {
		d = -d
	}
	return int64(float64(d)*h.cfg.MaxRate) + 1
}

// evalLocked recomputes the state at monotonic time now and returns the
// OnChange callback to run, if any.
func (h *Health) evalLocked(now int64) func() {
	reason := h.whyUntrustedLocked(now)
	if reason == "" && h.state == Trusted && now-h.trustedAt >= int64(h.cfg.SelfTaintPeriod) {
		// With peers, re-verification is a fresh peer round (as in TriHaRd);
		// without, a fresh NTS quorum.
		h.taintLocked(now, "self-taint: periodic re-verification", !h.cfg.RequirePeers)
		reason = h.whyUntrustedLocked(now)
	}
	old := h.state
	if reason == "" {
		if old != Trusted {
			h.trustedAt = now
		}
		h.state, h.reason = Trusted, ""
	} else {
		h.state, h.reason = Untrusted, reason
	}
	if old != h.state && h.cfg.OnChange != nil {
		cb, from, to, r := h.cfg.OnChange, old, h.state, h.reason
		return func() { cb(from, to, r) }
	}
	return nil
}

func (h *Health) errorLocked(now int64) int64 {
	return h.anchor.HalfWidth() + h.drift(now-h.anchorMono) + int64(h.cfg.ReadError)
}

func (h *Health) whyUntrustedLocked(now int64) string {
	switch {
	case h.plat.SEVSNP && !h.plat.Sound():
		return fmt.Sprintf("platform: %v", h.plat.Problems)
	case !h.plat.SEVSNP && !h.cfg.AllowDevPlatform:
		return "platform: not an SEV-SNP guest with SecureTSC"
	case !h.haveAnchor:
		return "no NTS sync yet"
	case h.taintNTS && h.lastSync <= h.taintedAt:
		return "awaiting fresh NTS quorum after: " + h.lastReason
	case h.syncOK < 1:
		return "awaiting a second consistent NTS quorum"
	case now-h.lastSync > int64(h.cfg.MaxSyncAge):
		return "last NTS sync too old"
	case h.rateBad:
		return fmt.Sprintf("clock rate out of bounds: [%.3g, %.3g] vs ±%.3g", h.rate.Lo, h.rate.Hi, h.cfg.MaxRate)
	case h.cfg.MinRateSpan > 0 && (h.rate == nil || h.rate.Span < int64(h.cfg.MinRateSpan) || !h.rate.Converged(h.cfg.MaxRate)):
		return "rate estimate not yet established"
	case h.cfg.RequirePeers && (!h.havePeer || !h.peerOK):
		return "peers do not confirm this clock: " + h.peerDetail
	case h.cfg.RequirePeers && h.lastPeer <= h.taintedAt:
		return "awaiting fresh peer verdict after: " + h.lastReason
	case h.cfg.RequirePeers && now-h.lastPeer > int64(h.cfg.PeerMaxAge):
		return "peer verdict too old"
	case h.errorLocked(now) > int64(h.cfg.MaxError):
		return fmt.Sprintf("error bound %v exceeds %v", time.Duration(h.errorLocked(now)), h.cfg.MaxError)
	}
	return ""
}

// Read evaluates the state machine now and returns the current reading.
func (h *Health) Read() Reading {
	h.mu.Lock()
	now := h.mono.Now()
	cb := h.evalLocked(now)
	r := h.readingLocked(now)
	h.mu.Unlock()
	if cb != nil {
		cb()
	}
	return r
}

func (h *Health) readingLocked(now int64) Reading {
	r := Reading{State: h.state, Reason: h.reason, Mono: now, Label: h.label()}
	if h.haveAnchor {
		r.Time = h.cfg.ReferenceBase + now + h.anchor.Mid()
		r.Error = h.errorLocked(now)
		r.AccuracyMicros = (r.Error + 999) / 1000
	}
	return r
}

func (h *Health) label() string {
	if h.plat.Sound() {
		return LabelSecureTSC
	}
	return LabelNotSecureTSC
}

// GenTime returns a reading for a token's genTime: only while trusted, and
// strictly increasing (≥ previous + 1 µs) on this node. If the monotonic
// bump moves the time past the estimate, the accuracy grows accordingly.
func (h *Health) GenTime() (Reading, error) {
	h.mu.Lock()
	now := h.mono.Now()
	cb := h.evalLocked(now)
	r := h.readingLocked(now)
	if r.State == Trusted {
		if floor := h.lastGen + int64(time.Microsecond); r.Time < floor {
			r.Error += floor - r.Time
			r.Time = floor
			r.AccuracyMicros = (r.Error + 999) / 1000
		}
		if r.Error > int64(h.cfg.MaxError) {
			r.State, r.Reason = Untrusted, "error bound exceeded after monotonic adjustment"
		} else {
			h.lastGen = r.Time
		}
	}
	h.mu.Unlock()
	if cb != nil {
		cb()
	}
	if r.State != Trusted {
		return r, fmt.Errorf("%w: %s", ErrUntrusted, r.Reason)
	}
	return r, nil
}
