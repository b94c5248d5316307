// Package trustedclock is the oracle's trusted clock: a clock.Clock backed
// by the timesync library. A monotonic source (SecureTSC in an SEV-SNP guest)
// is anchored to UTC by NTS-authenticated measurements against a set of
// servers, combined by interval intersection, and judged by the clock health
// state machine (timesync/clock.Health). The clock answers Trusted only
// while that state machine says so; everything else — no sync yet, a failed
// or inconsistent sync, a stopped sync loop, an unsound platform — yields an
// untrusted reading, so the oracle refuses to sign (fail closed).
package trustedclock

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	cvmclock "github.com/cc-tsa/cc-tsa/cvm/clock"
	"github.com/cc-tsa/cc-tsa/timesync/anchor"
	tsclock "github.com/cc-tsa/cc-tsa/timesync/clock"
	"github.com/cc-tsa/cc-tsa/timesync/interval"
	"github.com/cc-tsa/cc-tsa/timesync/nts"
)

// Defaults for Config.
const (
	// DefaultPoll is the NTS poll period once the clock is trusted.
	DefaultPoll = 32 * time.Second
	// DefaultRetry is the poll period while the clock is untrusted (start-up
	// needs two consistent syncs; a tainted clock needs a fresh one).
	DefaultRetry = 2 * time.Second
	// DefaultQueryTimeout bounds one NTS query (NTS-KE plus NTP exchange).
	DefaultQueryTimeout = 5 * time.Second
	// DefaultAccuracyQuantum is the default Config.AccuracyQuantum.
	DefaultAccuracyQuantum = 10 * time.Millisecond
	// NoPeersSelfTaintPeriod is the self-taint period used when no cross-node
	// check feeds the clock (see Config.Health).
	NoPeersSelfTaintPeriod = 24 * time.Hour
)

// MaxServers bounds the number of NTS servers.
const MaxServers = 16

// Config configures a Clock.
type Config struct {
	// Servers are the NTS-KE servers (host:port). At least one; a strict
	// majority of them (or Quorum) must agree for every sync.
	Servers []string
	// Roots are the only trust anchors for the servers' NTS-KE certificates
	// (required; the system pool is never used).
	Roots *x509.CertPool
	// Logger receives sync reports and state changes; nil means slog.Default().
	Logger *slog.Logger
	// Quorum is the number of agreeing servers required; 0 means a strict
	// majority of Servers.
	Quorum int
	// Poll is the poll period while trusted (default DefaultPoll) and Retry
	// the period while untrusted (default DefaultRetry, at most Poll).
	Poll, Retry time.Duration
	// QueryTimeout bounds one NTS query (default DefaultQueryTimeout).
	QueryTimeout time.Duration
	// AccuracyQuantum: Now rounds the error bound up to a multiple of this
	// (default DefaultAccuracyQuantum; time.Microsecond for the exact bound
	// in RFC 3161 units). Rounding up keeps the bound honest and makes the
	// nodes of a cluster, whose bounds grow with the time since their own
	// last sync, report equal accuracies: a signer refuses a proposal whose
	// accuracy is tighter than its own bound.
	AccuracyQuantum time.Duration
	// Development marks the servers as a development time source (the
	// loopback server of `cc-tsa dev` serving the host clock); the clock's
	// Source then says so.
	Development bool
	// Health holds the health-machine thresholds. AllowDevPlatform lets a
	// machine that is not an SEV-SNP guest become trusted (development);
	// its Source then says "not SecureTSC". OnChange is called after this
	// package's own bookkeeping. If RequirePeers is false and
	// SelfTaintPeriod is zero, SelfTaintPeriod becomes
	// NoPeersSelfTaintPeriod: without peers the periodic re-verification is
	// the NTS poll itself (a step taints, a stale sync untrusts), and the
	// library's 60 s self-taint would make the node refuse requests for a
	// poll's worth of time every minute.
	Health tsclock.Config
	// Platform is the platform report; nil means
	// clock.CheckPlatform(clock.HostProbe{}) (the real machine).
	Platform *tsclock.Platform
	// Monotonic is the monotonic source; nil means CLOCK_MONOTONIC_RAW.
	Monotonic tsclock.Monotonic
}

// Clock is a trusted clock. Create it with New, run its sync loop with Run
// (or drive it with SyncOnce), and stop it with Close. It is safe for
// concurrent use.
type Clock struct {
	log     *slog.Logger
	health  *tsclock.Health
	anchor  *anchor.Anchor
	clients []*nts.Client
	servers []string
	quorum  int
	poll    time.Duration
	retry   time.Duration
	dev     bool
	quantum time.Duration
	source  string // sourceLabel of the platform's monotonic source
	mono    tsclock.Monotonic

	mu      sync.Mutex
	closed  bool
	running bool
	last    *anchor.Report
	changed chan struct{} // closed and replaced on every state change
	wake    chan struct{} // buffered(1): asks Run for an immediate sync
}

// ErrClosed is returned by Run and SyncOnce after Close.
var ErrClosed = errors.New("trustedclock: clock closed")

// New returns an untrusted clock over cfg.Servers. It does not contact the
// servers; call Run (or SyncOnce).
func New(cfg Config) (*Clock, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("trustedclock: no NTS servers configured")
	}
	if len(cfg.Servers) > MaxServers {
		return nil, fmt.Errorf("trustedclock: %d NTS servers, at most %d", len(cfg.Servers), MaxServers)
	}
	if cfg.Roots == nil {
		return nil, errors.New("trustedclock: no trust anchors for the NTS servers")
	}
	seen := make(map[string]bool, len(cfg.Servers))
	for _, s := range cfg.Servers {
		if seen[s] {
			return nil, fmt.Errorf("trustedclock: NTS server %q listed twice (it would count twice towards the quorum)", s)
		}
		seen[s] = true
	}
	if cfg.Poll < 0 || cfg.Retry < 0 || cfg.QueryTimeout < 0 || cfg.AccuracyQuantum < 0 {
		return nil, errors.New("trustedclock: negative period")
	}
	if cfg.Poll == 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Retry == 0 {
		cfg.Retry = DefaultRetry
	}
	cfg.Retry = min(cfg.Retry, cfg.Poll)
	if cfg.QueryTimeout == 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	if cfg.AccuracyQuantum == 0 {
		cfg.AccuracyQuantum = DefaultAccuracyQuantum
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "trustedclock")
	plat := cfg.Platform
	if plat == nil {
		plat = tsclock.CheckPlatform(tsclock.HostProbe{})
	}
	if err := plat.Err(); err != nil {
		// The health machine never trusts such a platform; keep running so
		// that the problem shows in status pages.
		log.Error("platform check failed: this clock will never be trusted", "err", err)
	}
	mono := cfg.Monotonic
	if mono == nil {
		m, err := tsclock.NewRawMonotonic()
		if err != nil {
			return nil, fmt.Errorf("trustedclock: monotonic clock: %w", err)
		}
		mono = m
	}
	c := &Clock{
		log:     log,
		servers: append([]string(nil), cfg.Servers...),
		poll:    cfg.Poll,
		retry:   cfg.Retry,
		dev:     cfg.Development,
		quantum: cfg.AccuracyQuantum,
		mono:    mono,
		changed: make(chan struct{}),
		wake:    make(chan struct{}, 1),
	}
	hcfg := cfg.Health
	if !hcfg.RequirePeers && hcfg.SelfTaintPeriod == 0 {
		hcfg.SelfTaintPeriod = NoPeersSelfTaintPeriod
	}
	userChange := hcfg.OnChange
	hcfg.OnChange = func(from, to tsclock.State, reason string) {
		c.stateChanged(from, to, reason)
		if userChange != nil {
			userChange(from, to, reason)
		}
	}
	h, err := tsclock.NewHealth(hcfg, mono, plat)
	if err != nil {
		return nil, fmt.Errorf("trustedclock: %w", err)
	}
	c.health = h
	srcs := make([]anchor.Source, 0, len(cfg.Servers))
	for _, s := range cfg.Servers {
		cl, err := nts.NewClient(s, nts.ClientConfig{
			KEConfig: nts.KEConfig{Roots: cfg.Roots, CertTime: h.CertTime},
			Now:      h.Reference,
			Timeout:  cfg.QueryTimeout,
		})
		if err != nil {
			c.closeClients()
			return nil, fmt.Errorf("trustedclock: NTS client for %s: %w", s, err)
		}
		c.clients = append(c.clients, cl)
		srcs = append(srcs, anchor.Source{Name: s, Client: cl})
	}
	q := cfg.Quorum
	if q <= 0 {
		q = interval.MajorityQuorum(len(srcs))
	}
	a, err := anchor.New(srcs, h, q)
	if err != nil {
		c.closeClients()
		return nil, fmt.Errorf("trustedclock: %w", err)
	}
	c.anchor, c.quorum = a, q
	c.source = c.sourceLabel(plat.Label())
	log.Info("trusted clock created; untrusted until NTS syncs agree", "source", c.source, "quorum", q)
	return c, nil
}

// stateChanged runs (without health locks) on every health transition.
func (c *Clock) stateChanged(from, to tsclock.State, reason string) {
	if to == tsclock.Trusted {
		c.log.Info("clock trusted", "source", c.source)
	} else {
		c.log.Warn("clock untrusted: refusing to time-stamp", "reason", reason)
		select { // resynchronise at once rather than after a full poll
		case c.wake <- struct{}{}:
		default:
		}
	}
	c.mu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// sourceLabel names the servers and the monotonic source.
func (c *Clock) sourceLabel(monoLabel string) string {
	var b strings.Builder
	if c.dev {
		b.WriteString(nts.DevLabel)
		b.WriteString(" via NTS ")
	} else {
		fmt.Fprintf(&b, "NTS, %d of %d servers agreeing: ", c.quorum, len(c.servers))
	}
	b.WriteString(strings.Join(c.servers, ", "))
	b.WriteString("; ")
	b.WriteString(monoLabel)
	return b.String()
}

// Now returns the current reading. It is Trusted only while the health state
// machine is trusted and the clock is open; Accuracy is the current error
// bound rounded up to Config.AccuracyQuantum; Source names the servers and
// the monotonic source and, while untrusted, why. Successive trusted readings are strictly increasing
// (by at least 1 µs).
func (c *Clock) Now() cvmclock.Reading {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	var (
		r   tsclock.Reading
		err error
	)
	if closed {
		r = c.health.Read()
		err = ErrClosed
	} else {
		r, err = c.health.GenTime()
	}
	src := c.source
	if r.Label != c.health.Platform().Label() {
		src = c.sourceLabel(r.Label)
	}
	out := cvmclock.Reading{Accuracy: roundUp(time.Duration(r.Error), c.quantum), Source: src}
	if r.Time != 0 {
		out.Time = time.Unix(0, r.Time)
	}
	switch {
	case err != nil:
		reason := r.Reason
		if closed {
			reason = "sync loop stopped"
		}
		out.Source += "; untrusted: " + reason
	case r.Error <= 0 || r.Time == 0:
		out.Source += "; untrusted: no error bound"
	default:
		out.Trusted = true
	}
	return out
}

// roundUp rounds d > 0 up to a multiple of q.
func roundUp(d, q time.Duration) time.Duration {
	if d <= 0 || q <= 1 {
		return d
	}
	return (d + q - 1) / q * q
}

// Status is a snapshot for status pages.
type Status struct {
	Trusted  bool          // the clock may be signed with
	Reason   string        // why not ("" when trusted)
	Source   string        // servers and monotonic source
	Bound    time.Duration // current error bound (0 before the first sync)
	Time     time.Time     // current estimate (zero before the first sync)
	Servers  []string      // configured NTS servers
	Quorum   int           // agreeing servers required
	Platform string        // SecureTSC or not, with problems if any
	// LastSync describes the last sync round ("" before the first).
	LastSync string
	// Falsetickers are the servers out-voted or failing in the last round.
	Falsetickers []string
}

// Status returns the clock's current status without advancing the genTime
// sequence.
func (c *Clock) Status() Status {
	r := c.health.Read()
	c.mu.Lock()
	closed, last := c.closed, c.last
	c.mu.Unlock()
	st := Status{
		Trusted: r.Trusted() && !closed, Reason: r.Reason, Source: c.sourceLabel(r.Label),
		Bound: time.Duration(r.Error), Servers: append([]string(nil), c.servers...), Quorum: c.quorum,
		Platform: c.health.Platform().Label(),
	}
	if closed {
		st.Reason = "sync loop stopped"
	}
	if p := c.health.Platform(); len(p.Problems) > 0 {
		st.Platform += " (" + strings.Join(p.Problems, "; ") + ")"
	}
	if r.Time != 0 {
		st.Time = time.Unix(0, r.Time)
	}
	if last != nil {
		st.LastSync = describe(last)
		st.Falsetickers = last.Falsetickers()
	}
	return st
}

// Health returns the health state machine, for the cluster layer's
// cross-node check (Health.PeerClock, Health.ObservePeers) when
// Config.Health.RequirePeers is set.
func (c *Clock) Health() *tsclock.Health { return c.health }

// SyncOnce runs one sync round against all servers and feeds the result to
// the health state machine. A round in which no quorum agrees taints the
// clock; a cancelled round does not.
func (c *Clock) SyncOnce(ctx context.Context) (*anchor.Report, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	rep, err := c.anchor.SyncOnce(ctx)
	c.mu.Lock()
	c.last = rep
	c.mu.Unlock()
	if err != nil {
		errs := []error{err}
		for _, s := range rep.Sources {
			if s.Err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.Name, s.Err))
			}
		}
		err = errors.Join(errs...)
		c.log.Warn("NTS sync failed", "err", err, "falsetickers", rep.Falsetickers())
		return rep, fmt.Errorf("trustedclock: sync: %w", err)
	}
	lvl := slog.LevelDebug
	if len(rep.Falsetickers()) > 0 {
		lvl = slog.LevelWarn
	}
	c.log.Log(ctx, lvl, "NTS sync", "round", describe(rep), "falsetickers", rep.Falsetickers())
	return rep, nil
}

// describe summarises a sync round.
func describe(rep *anchor.Report) string {
	if rep.Err != nil {
		var b strings.Builder
		b.WriteString("failed: " + rep.Err.Error())
		for _, s := range rep.Sources {
			if s.Err != nil {
				fmt.Fprintf(&b, "; %s: %v", s.Name, s.Err)
			}
		}
		return b.String()
	}
	iv := rep.Combined.Interval
	return fmt.Sprintf("%d agreeing, offset %v ± %v", len(rep.Combined.Agreeing), time.Duration(iv.Mid()), time.Duration(iv.HalfWidth()))
}

// Run syncs at once, then every Retry while untrusted and every Poll while
// trusted, until ctx is done or Close is called. A transition to untrusted
// triggers an immediate sync. When Run returns the clock is closed: it
// never becomes trusted again (fail closed: nothing keeps it anchored).
func (c *Clock) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.closed || c.running {
		c.mu.Unlock()
		return errors.New("trustedclock: Run called on a closed or running clock")
	}
	c.running = true
	c.mu.Unlock()
	defer c.Close()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-c.wake:
			t.Stop()
		}
		if _, err := c.SyncOnce(ctx); errors.Is(err, ErrClosed) {
			return err
		}
		next := c.poll
		if !c.health.Read().Trusted() {
			next = c.retry
		}
		t.Reset(next)
	}
}

// WaitTrusted blocks until the clock is trusted, ctx is done (the error
// then says why the clock is still untrusted) or the clock is closed.
func (c *Clock) WaitTrusted(ctx context.Context) error {
	for {
		c.mu.Lock()
		ch, closed := c.changed, c.closed
		c.mu.Unlock()
		if closed {
			return ErrClosed
		}
		if r := c.health.Read(); r.Trusted() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			st := c.Status()
			return fmt.Errorf("trustedclock: clock not trusted (%s; last sync: %s): %w", st.Reason, st.LastSync, ctx.Err())
		}
	}
}

// Close stops the clock: it becomes untrusted for good and its NTS sessions
// are zeroized. Close is idempotent.
func (c *Clock) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	c.health.Taint("trusted clock closed")
	c.closeClients()
	c.log.Info("trusted clock closed")
}

func (c *Clock) closeClients() {
	for _, cl := range c.clients {
		cl.Close()
	}
}

// PeerClock is the clock the cross-node check reads (crosscheck.Clock).
func (c *Clock) PeerClock() (t, e int64, ok bool) { return c.health.PeerClock() }

// ObservePeers feeds a cross-node verdict (package crosscheck) to the
// clock's health: with Config.Health.RequirePeers a node is trusted only
// while a recent verdict is positive.
func (c *Clock) ObservePeers(ok bool, detail string) {
	c.health.ObservePeers(ok, c.mono.Now(), detail)
}
