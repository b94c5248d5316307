// Package interval treats clock offsets as intervals, never points: each
// NTS sample is offset ± (delay/2 + root delay/2 + root dispersion). It
// combines several servers' intervals by a Marzullo-style intersection that
// out-votes a minority of lying servers, and estimates the local clock's rate
// against them.
//
// All values are nanoseconds (offsets: server minus local reference clock).
package interval

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Interval is the closed interval [Lo, Hi].
type Interval struct{ Lo, Hi int64 }

// Around returns [mid − half, mid + half]; a negative half is treated as 0.
func Around(mid, half int64) Interval {
	half = max(half, 0)
	return Interval{Lo: mid - half, Hi: mid + half}
}

// Valid reports whether Lo ≤ Hi.
func (i Interval) Valid() bool { return i.Lo <= i.Hi }

// Mid returns the midpoint (rounded toward −∞).
func (i Interval) Mid() int64 { return i.Lo + (i.Hi-i.Lo)/2 }

// Width returns Hi − Lo.
func (i Interval) Width() int64 { return i.Hi - i.Lo }

// HalfWidth returns the half width rounded up: the error bound around Mid.
func (i Interval) HalfWidth() int64 { return (i.Hi - i.Lo + 1) / 2 }

// Contains reports whether x ∈ [Lo, Hi].
func (i Interval) Contains(x int64) bool { return i.Lo <= x && x <= i.Hi }

// Intersect returns the intersection and whether it is non-empty.
func (i Interval) Intersect(j Interval) (Interval, bool) {
	r := Interval{Lo: max(i.Lo, j.Lo), Hi: min(i.Hi, j.Hi)}
	return r, r.Valid()
}

// Widen returns the interval grown by d on both sides.
func (i Interval) Widen(d int64) Interval { return Interval{Lo: i.Lo - d, Hi: i.Hi + d} }

func (i Interval) String() string { return fmt.Sprintf("[%d, %d]", i.Lo, i.Hi) }

// Source is one server's interval.
type Source struct {
	Name     string
	Interval Interval
}

// Result is the outcome of Combine.
type Result struct {
	// Interval contains every point covered by at least Quorum sources: if at
	// most len(sources) − Quorum sources lie, the true offset lies in it.
	Interval Interval
	// Agreeing are the sources whose interval meets Interval; Falsetickers
	// are the out-voted rest (reported, never used).
	Agreeing, Falsetickers []string
	// Quorum is the number of agreeing sources that was required.
	Quorum int
	// Max is the largest number of sources sharing a common point.
	Max int
}

// ErrNoMajority is returned when no point is covered by a quorum of sources:
// no majority means no time.
var ErrNoMajority = errors.New("interval: no quorum of sources agrees")

// MajorityQuorum returns ⌊n/2⌋ + 1.
func MajorityQuorum(n int) int { return n/2 + 1 }

// Combine intersects the sources' intervals (Marzullo's algorithm in the NTP
// intersection form). quorum ≤ 0 means a strict majority. It fails with
// ErrNoMajority when fewer than quorum intervals share a point.
func Combine(sources []Source, quorum int) (Result, error) {
	n := len(sources)
	if quorum <= 0 {
		quorum = MajorityQuorum(n)
	}
	if n == 0 || quorum > n {
		return Result{Quorum: quorum}, fmt.Errorf("%w: %d sources, quorum %d", ErrNoMajority, n, quorum)
	}
	type edge struct {
		x     int64
		start bool
	}
	edges := make([]edge, 0, 2*n)
	for _, s := range sources {
		if !s.Interval.Valid() {
			return Result{}, fmt.Errorf("interval: source %q has invalid interval %v", s.Name, s.Interval)
		}
		edges = append(edges, edge{s.Interval.Lo, true}, edge{s.Interval.Hi, false})
	}
	// Closed intervals: at equal coordinates, starts come before ends.
	slices.SortFunc(edges, func(a, b edge) int {
		if a.x != b.x {
			if a.x < b.x {
				return -1
			}
			return 1
		}
		if a.start == b.start {
			return 0
		}
		if a.start {
			return -1
		}
		return 1
	})
	count, best := 0, 0
	var lo, hi int64
	found := false
	for _, e := range edges {
		if e.start {
			count++
			best = max(best, count)
			if count >= quorum && !found {
				lo, found = e.x, true
			}
		} else {
			if count >= quorum {
				hi = e.x
			}
			count--
		}
	}
	res := Result{Quorum: quorum, Max: best}
	if !found {
		for _, s := range sources {
			res.Falsetickers = append(res.Falsetickers, s.Name)
		}
		return res, fmt.Errorf("%w: at most %d of %d sources agree, %d needed", ErrNoMajority, best, n, quorum)
	}
	res.Interval = Interval{Lo: lo, Hi: hi}
	for _, s := range sources {
		if _, ok := s.Interval.Intersect(res.Interval); ok {
			res.Agreeing = append(res.Agreeing, s.Name)
		} else {
			res.Falsetickers = append(res.Falsetickers, s.Name)
		}
	}
	return res, nil
}

// Point is one combined offset observation at a local monotonic time.
type Point struct {
	Mono   int64 // local monotonic clock reading (ns)
	Offset Interval
}

// Rate is an estimate of the local clock's frequency error relative to the
// servers: offset(t) ≈ a + Rate·t. Rate is dimensionless (1e-6 = 1 ppm);
// positive means the local clock runs slow.
type Rate struct {
	Rate float64
	// Lo and Hi bound the mean rate over the observation span soundly if
	// the intervals are honest (from the first and last points).
	Lo, Hi float64
	// Span is the monotonic time covered (ns); N the number of points.
	Span int64
	N    int
}

// ErrTooFewPoints is returned by EstimateRate with fewer than two points or
// a zero span.
var ErrTooFewPoints = errors.New("interval: too few points for a rate estimate")

// EstimateRate fits offset midpoints against monotonic time by weighted least
// squares (weights 1/width²) and derives sound bounds from the first and last
// intervals. Points must be in increasing Mono order.
func EstimateRate(pts []Point) (Rate, error) {
	if len(pts) < 2 {
		return Rate{}, ErrTooFewPoints
	}
	for i := 1; i < len(pts); i++ {
		if pts[i].Mono <= pts[i-1].Mono {
			return Rate{}, fmt.Errorf("interval: points not in increasing monotonic order at %d", i)
		}
	}
	first, last := pts[0], pts[len(pts)-1]
	span := last.Mono - first.Mono
	t0 := float64(first.Mono)
	var sw, sx, sy, sxx, sxy float64
	for _, p := range pts {
		w := float64(max(p.Offset.Width(), 1))
		w = 1 / (w * w)
		x := float64(p.Mono) - t0
		y := float64(p.Offset.Mid() - first.Offset.Mid())
		sw += w
		sx += w * x
		sy += w * y
		sxx += w * x * x
		sxy += w * x * y
	}
	den := sw*sxx - sx*sx
	r := Rate{Span: span, N: len(pts)}
	if den > 0 {
		r.Rate = (sw*sxy - sx*sy) / den
	}
	ds := float64(span)
	r.Lo = float64(last.Offset.Lo-first.Offset.Hi) / ds
	r.Hi = float64(last.Offset.Hi-first.Offset.Lo) / ds
	if math.IsNaN(r.Rate) || math.IsInf(r.Rate, 0) {
		return Rate{}, errors.New("interval: degenerate rate fit")
	}
	return r, nil
}

// Within reports whether the estimate is consistent with |rate| ≤ limit:
// the sound bounds meet [−limit, limit]. A false result proves (for honest
// intervals) that the local clock's rate is out of bounds.
func (r Rate) Within(limit float64) bool {
	return r.Lo <= limit && r.Hi >= -limit
}

// Converged reports whether the sound bounds are tight enough to tell a rate
// of ±limit from zero: Hi − Lo ≤ 2·limit, and the fitted rate is within limit.
func (r Rate) Converged(limit float64) bool {
	return r.Hi-r.Lo <= 2*limit && math.Abs(r.Rate) <= limit
}
