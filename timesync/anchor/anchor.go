// Package anchor anchors the node clock to UTC: it queries a set of NTS
// servers, turns every sample into an interval, intersects them (a minority
// of lying servers is out-voted and reported), estimates the local clock's
// rate against the combined intervals and feeds the results to the clock
// health state machine.
package anchor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cc-tsa/cc-tsa/timesync/clock"
	"github.com/cc-tsa/cc-tsa/timesync/interval"
	"github.com/cc-tsa/cc-tsa/timesync/nts"
)

// maxHistory bounds the number of points in the rate-estimation history.
const maxHistory = 128

// RateWindow bounds the time the rate-estimation history covers: points
// older than this (relative to the newest) are dropped, so a rate estimate
// spans at most RateWindow (and clock.Config.MinRateSpan must be well below
// it). Within the window the history is thinned rather than truncated when
// it holds more than maxHistory points, so its span does not depend on the
// poll period.
const RateWindow = time.Hour

// Source is one NTS server.
type Source struct {
	Name   string
	Client *nts.Client
}

// Anchor polls Sources and feeds a clock.Health. Create it with New.
type Anchor struct {
	sources []Source
	health  *clock.Health
	quorum  int

	mu      sync.Mutex
	history []interval.Point
}

// New returns an anchor over sources. quorum ≤ 0 means a strict majority of
// len(sources). The clients must use health.Reference as their clock
// (nts.ClientConfig.Now) so that offsets are relative to the node's
// reference clock.
func New(sources []Source, health *clock.Health, quorum int) (*Anchor, error) {
	if len(sources) == 0 || health == nil {
		return nil, errors.New("anchor: need sources and a health state machine")
	}
	if quorum <= 0 {
		quorum = interval.MajorityQuorum(len(sources))
	}
	if quorum > len(sources) {
		return nil, fmt.Errorf("anchor: quorum %d exceeds %d sources", quorum, len(sources))
	}
	return &Anchor{sources: sources, health: health, quorum: quorum}, nil
}

// SourceResult is one server's contribution to a round.
type SourceResult struct {
	Name     string
	Sample   *nts.Sample // nil on error
	Interval interval.Interval
	Err      error
}

// Report describes one synchronisation round.
type Report struct {
	Sources  []SourceResult
	Combined interval.Result
	Rate     *interval.Rate // nil until two consistent rounds exist
	Mono     int64          // monotonic time the round refers to
	Err      error          // non-nil when no quorum agreed
}

// Falsetickers returns the names of out-voted or failed sources.
func (r *Report) Falsetickers() []string {
	out := append([]string(nil), r.Combined.Falsetickers...)
	for _, s := range r.Sources {
		if s.Err != nil {
			out = append(out, s.Name)
		}
	}
	return out
}

// SyncOnce queries every source concurrently, combines the intervals and
// updates the health state machine. It returns the round's report; the
// report's Err is also returned when no quorum agreed (which taints the
// clock) or when ctx was cancelled (which does not).
func (a *Anchor) SyncOnce(ctx context.Context) (*Report, error) {
	rep := &Report{Sources: make([]SourceResult, len(a.sources))}
	var wg sync.WaitGroup
	for i, s := range a.sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			smp, err := s.Client.Query(ctx)
			rep.Sources[i] = SourceResult{Name: s.Name, Sample: smp, Err: err}
			if err == nil {
				rep.Sources[i].Interval = interval.Around(smp.Offset, smp.Uncertainty())
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); errors.Is(err, context.Canceled) {
		// Cancelled (e.g. shutdown): not evidence about time, don't taint.
		// An expired deadline, by contrast, is: servers did not answer.
		rep.Err = fmt.Errorf("anchor: round cancelled: %w", err)
		return rep, rep.Err
	}
	var ivs []interval.Source
	var monoSum, n int64
	for _, s := range rep.Sources {
		if s.Err != nil {
			continue
		}
		ivs = append(ivs, interval.Source{Name: s.Name, Interval: s.Interval})
		// The instant the sample refers to, on the monotonic clock.
		monoSum += (s.Sample.T1 + s.Sample.T4) / 2
		n++
	}
	// A failed source counts against the quorum: the quorum is over all
	// configured sources, not just the ones that answered.
	if len(ivs) < a.quorum {
		rep.Err = fmt.Errorf("%w: only %d of %d sources answered, %d needed", interval.ErrNoMajority, len(ivs), len(a.sources), a.quorum)
		a.health.ObserveNTSFailure(rep.Err)
		return rep, rep.Err
	}
	res, err := interval.Combine(ivs, a.quorum)
	rep.Combined = res
	if err != nil {
		rep.Err = err
		a.health.ObserveNTSFailure(err)
		return rep, err
	}
	rep.Mono = monoSum/n - a.health.ReferenceBase()
	a.health.ObserveNTS(res, rep.Mono)

	a.mu.Lock()
	a.history = addPoint(a.history, interval.Point{Mono: rep.Mono, Offset: res.Interval})
	var rate *interval.Rate
	if len(a.history) >= 2 {
		if r, err := interval.EstimateRate(a.history); err == nil {
			rate = &r
		}
	}
	a.mu.Unlock()
	if rate != nil {
		rep.Rate = rate
		a.health.ObserveRate(*rate)
	}
	return rep, nil
}

// Run calls SyncOnce every period until ctx is done, passing each report
// (also failed rounds) to onReport if it is non-nil. It returns ctx.Err().
func (a *Anchor) Run(ctx context.Context, period time.Duration, onReport func(*Report)) error {
	if period <= 0 {
		return errors.New("anchor: non-positive poll period")
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rep, _ := a.SyncOnce(ctx)
		if onReport != nil {
			onReport(rep)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// addPoint appends pt to the rate history h (in increasing Mono order) and
// returns the new history: a point not after the newest restarts it; points
// more than RateWindow older than pt are dropped, keeping at least the two
// newest; beyond maxHistory points the interior point whose neighbours are
// closest goes, which keeps the oldest and newest points (so the span) and
// spreads the rest evenly over it.
func addPoint(h []interval.Point, pt interval.Point) []interval.Point {
	if k := len(h); k > 0 && pt.Mono <= h[k-1].Mono {
		h = h[:0]
	}
	h = append(h, pt)
	cut := 0
	for cut < len(h)-2 && pt.Mono-h[cut].Mono > int64(RateWindow) {
		cut++
	}
	if cut > 0 {
		h = append(h[:0], h[cut:]...)
	}
	for len(h) > maxHistory {
		drop := 1
		for i := 2; i < len(h)-1; i++ {
			if h[i+1].Mono-h[i-1].Mono < h[drop+1].Mono-h[drop-1].Mono {
				drop = i
			}
		}
		h = append(h[:drop], h[drop+1:]...)
	}
	return h
}
