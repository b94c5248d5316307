package mldsa

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/cc-tsa/cc-tsa/dkg/mldsa/internal/fips204"
)

// ballSampler draws points uniformly from a hyperball.
//
// Method: draw dimAll+2 independent standard Gaussians, divide by their
// Euclidean norm and keep the first dimAll coordinates: the result is uniform
// in the unit ball of dimension dimAll (the "drop two coordinates"
// construction); then scale by the radius.
//
// Gaussians come from a 256-layer ziggurat (Marsaglia–Tsang) driven by full
// 64-bit random words: 8 bits pick the layer, 1 bit the sign and 53 bits the
// abscissa, so every uniform has double precision; the wedge test uses a
// further 53-bit uniform and the tail (beyond r ≈ 3.654) uses Marsaglia's
// exact exponential method with uniforms in (0, 1], so log never sees 0. The
// ziggurat is an exact rejection sampler (given exact arithmetic), like
// Box–Muller, but needs a logarithm only in about 1 sample in 100.
//
// The common case (about 99 % of the words: the abscissa lies inside the
// layer's rectangle) is an integer comparison of the 53 abscissa bits against
// a per-layer threshold and one multiplication by a signed per-layer scale
// (both tables indexed by the 9 low bits); it runs in a tight loop over a
// block of key-stream words. The threshold is chosen so that the integer
// test accepts exactly the words the floating-point test x < x_{i+1}
// accepts. In the wedge, a chord and a tangent of the density decide most
// cases without math.Exp, with a margin far above the rounding errors, so
// they decide as the comparison with math.Exp would. The output is
// therefore bit for bit that of the straightforward formulation
// (TestGaussiansMatchReference, TestSampleMatchesReference).
//
// Randomness is an AES-256-CTR key stream under a fresh 32-byte key read from
// the caller's source (zero IV; the key is never reused), so one sampler
// serves exactly one round-1 computation. AES-CTR uses AES-NI on amd64 and
// arm64.
//
// Limits: float64 arithmetic, math.Exp/Log and the data-dependent rejection
// loop are not constant time, and the proof assumes exact continuous
// distributions; the float64 approximation (53-bit uniforms, table values
// correct to about 1e-15) is not analysed by the paper.
type ballSampler struct {
	c     cipher.Stream
	t     *zigTable
	raw   []byte // key stream of the current block: little-endian 64-bit words
	zero  []byte // all zero, len(raw): the plaintext the key stream is XORed onto
	pos   int    // index of the next unused word
	extra [gaussDim - dimAll]float64
}

const (
	zigLayers = 256
	zigR      = 3.6541528853610088 // right edge of the base layer
	zigV      = 0.00492867323399   // area of every layer (base layer: rectangle + tail)
	randWords = 1024               // random words fetched at a time
	gaussDim  = dimAll + 2         // Gaussians per ball point
	uniScale  = 1.0 / (1 << 53)    // 2^−53
	zigSign   = uint64(1) << 8     // sign bit
	zigShift  = 11                 // 64 − 53: the abscissa bits
	tailInv   = 1 / zigR
	_         = uint8(zigLayers - 256) // zigLayers must be 256 (8 index bits)
)

// zigTable holds the ziggurat's constants. It is computed once and never
// modified.
type zigTable struct {
	x     [zigLayers + 1]float64 // layer edges x_0 > x_1 = r > … > x_255 > x_256 = 0
	f     [zigLayers + 1]float64 // f(x_i) = exp(−x_i²/2)
	scale [zigLayers]float64     // x_i · 2^−53: abscissa m ↦ m·scale_i (exact power-of-two scaling)
	fast  [zigLayers]uint64      // m < fast_i ⇔ m·scale_i < x_{i+1} (in float64)

	// The same, indexed by the 9 low bits of a word (layer and sign):
	// sscale carries the sign (−(m·s) = m·(−s) exactly in IEEE arithmetic).
	sscale [2 * zigLayers]float64
	sfast  [2 * zigLayers]uint64

	// Wedge bounds: on layer i, lo_i(x) ≤ f(x) ≤ hi_i(x) for x in
	// [x_{i+1}, x_i], with lines lo_i(x) = loA_i + loB_i·x and
	// hi_i(x) = hiA_i + hiB_i·x (chord and tangent; lo = −1, hi = 2 where
	// the layer contains the inflection point x = 1).
	loA, loB, hiA, hiB [zigLayers]float64
}

// wedgeMargin is far above the floating-point error of the bound lines,
// the table values and math.Exp (all below 1e−14 in absolute value), so a
// decision taken on a bound agrees with the comparison against math.Exp.
const wedgeMargin = 1e-12

// zigTables returns the shared, read-only ziggurat table.
var zigTables = sync.OnceValue(newZigTable)

// newZigTable computes the ziggurat layer edges: x_1 = r, x_0 = v/f(r) (the
// width of a rectangle of area v at height f(r)), and
// x_{i+1} = f^{−1}(v/x_i + f(x_i)); then the fast-path thresholds.
func newZigTable() *zigTable {
	t := new(zigTable)
	f := func(x float64) float64 { return math.Exp(-0.5 * x * x) }
	t.x[0] = zigV / f(zigR)
	t.x[1] = zigR
	for i := 1; i < zigLayers-1; i++ {
		t.x[i+1] = math.Sqrt(-2 * math.Log(zigV/t.x[i]+f(t.x[i])))
	}
	t.x[zigLayers] = 0
	for i := range t.x {
		t.f[i] = f(t.x[i])
	}
	for i := range t.scale {
		t.scale[i] = t.x[i] * uniScale
		t.fast[i] = fastThreshold(t.scale[i], t.x[i+1])
	}
	for j := range t.sscale {
		i := j & (zigLayers - 1)
		t.sscale[j] = t.scale[i]
		if uint64(j)&zigSign != 0 {
			t.sscale[j] = -t.scale[i]
		}
		t.sfast[j] = t.fast[i]
	}
	for i := 1; i < zigLayers; i++ {
		t.wedgeBounds(i)
	}
	return t
}

// wedgeBounds sets the bound lines of layer i. f is convex on [1, ∞) and
// concave on [0, 1]: on a convex interval the chord lies above f and any
// tangent below it, on a concave one the other way round.
func (t *zigTable) wedgeBounds(i int) {
	a, b := t.x[i+1], t.x[i] // a < b, f(a) = f_{i+1} > f(b) = f_i
	slope := (t.f[i] - t.f[i+1]) / (b - a)
	chA, chB := t.f[i+1]-slope*a, slope
	m := (a + b) / 2
	fm := math.Exp(-0.5 * m * m)
	tgB := -m * fm // f′(m)
	tgA := fm - tgB*m
	switch {
	case a >= 1: // convex
		t.loA[i], t.loB[i], t.hiA[i], t.hiB[i] = tgA, tgB, chA, chB
	case b <= 1: // concave
		t.loA[i], t.loB[i], t.hiA[i], t.hiB[i] = chA, chB, tgA, tgB
	default:
		t.loA[i], t.loB[i], t.hiA[i], t.hiB[i] = -1, 0, 2, 0
	}
}

// fastThreshold returns the least m in [0, 2^53] with
// float64(m)·scale ≥ edge. Rounded multiplication is monotone in m, so for
// every 53-bit m, m < fastThreshold ⇔ float64(m)·scale < edge.
func fastThreshold(scale, edge float64) uint64 {
	lo, hi := uint64(0), uint64(1)<<53
	for lo < hi {
		mid := lo + (hi-lo)/2
		if float64(int64(mid))*scale < edge {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

func newBallSampler(rand io.Reader) (*ballSampler, error) {
	var key [32]byte
	defer clear(key[:])
	if _, err := io.ReadFull(rand, key[:]); err != nil {
		return nil, fmt.Errorf("mldsa: reading randomness: %w", err)
	}
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("mldsa: %w", err)
	}
	var iv [aes.BlockSize]byte
	return &ballSampler{
		c:    cipher.NewCTR(block, iv[:]),
		t:    zigTables(),
		raw:  make([]byte, 8*randWords),
		zero: make([]byte, 8*randWords),
		pos:  randWords,
	}, nil
}

// refill replaces the block with the next randWords words of key stream.
func (b *ballSampler) refill() {
	b.c.XORKeyStream(b.raw, b.zero)
	b.pos = 0
}

// u64 returns 64 fresh random bits.
func (b *ballSampler) u64() uint64 {
	if b.pos == randWords {
		b.refill()
	}
	v := binary.LittleEndian.Uint64(b.raw[8*b.pos:])
	b.pos++
	return v
}

// uniOpen returns a uniform double in (0, 1].
func (b *ballSampler) uniOpen() float64 {
	return (float64(int64(b.u64()>>zigShift)) + 1) * uniScale
}

// signed returns x with the sign bit of the word u (x ≥ 0).
func signed(x float64, u uint64) float64 {
	return math.Float64frombits(math.Float64bits(x) | (u&zigSign)<<(63-8))
}

// gaussians fills g with independent standard normal samples, consuming the
// random words in order, and returns sumSq plus the sum of their squares
// (added one by one, in order).
func (b *ballSampler) gaussians(g []float64, sumSq float64) float64 {
	sfast, sscale := &b.t.sfast, &b.t.sscale
	for len(g) > 0 {
		if b.pos == randWords {
			b.refill()
		}
		w := b.raw[8*b.pos:]
		if len(w) > 8*len(g) {
			w = w[:8*len(g)]
		}
		out := g[:len(w)/8]
		n := 0
		for len(w) >= 8 {
			u := binary.LittleEndian.Uint64(w)
			j := u & (2*zigLayers - 1)
			m := u >> zigShift
			if m >= sfast[j] {
				break
			}
			v := float64(int64(m)) * sscale[j]
			out[n] = v
			sumSq += v * v
			n++
			w = w[8:]
		}
		b.pos += n
		g = g[n:]
		if n < len(out) {
			v := b.gaussSlow(b.u64())
			g[0] = v
			sumSq += v * v
			g = g[1:]
		}
	}
	return sumSq
}

// gauss returns one standard normal sample.
func (b *ballSampler) gauss() float64 {
	var g [1]float64
	_ = b.gaussians(g[:], 0)
	return g[0]
}

// gaussSlow finishes a sample whose first word u fell outside its layer's
// rectangle: the base layer's tail, or the wedge test; on rejection it starts
// over with fresh words.
func (b *ballSampler) gaussSlow(u uint64) float64 {
	t := b.t
	for {
		i := int(u & (zigLayers - 1)) // int, not uint8: i+1 reaches 256
		m := u >> zigShift
		x := float64(int64(m)) * t.scale[i]
		if m < t.fast[i] {
			return signed(x, u)
		}
		if i == 0 {
			// Tail beyond r: Marsaglia (1964).
			for {
				a := -math.Log(b.uniOpen()) * tailInv
				c := -math.Log(b.uniOpen())
				if c+c >= a*a {
					return signed(zigR+a, u)
				}
			}
		}
		// Wedge: a uniform height in [f(x_i), f(x_{i+1})] below f(x)?
		// The bound lines decide most cases without math.Exp.
		y := t.f[i] + (float64(int64(b.u64()>>zigShift))*uniScale)*(t.f[i+1]-t.f[i])
		if y < t.loA[i]+t.loB[i]*x-wedgeMargin {
			return signed(x, u)
		}
		if y <= t.hiA[i]+t.hiB[i]*x+wedgeMargin && y < math.Exp(-0.5*x*x) {
			return signed(x, u)
		}
		u = b.u64()
	}
}

// sample writes into x (length dimAll) a point uniform in the ball of radius
// radius, with the first dimY coordinates then multiplied by nu (an
// ellipsoid).
func (b *ballSampler) sample(x []float64, radius, nu float64) {
	x = x[:dimAll]
	sumSq := b.gaussians(x, 0)
	sumSq = b.gaussians(b.extra[:], sumSq)
	scale := radius / math.Sqrt(sumSq)
	y := x[:dimY]
	for i := range y {
		y[i] = y[i] * scale * nu // (g·scale)·ν, rounded twice as before
	}
	e := x[dimY:]
	for i := range e {
		e[i] *= scale
	}
}

// wipe erases the sampler's buffers.
func (b *ballSampler) wipe() {
	clear(b.raw)
	clear(b.extra[:])
	b.pos = randWords
}

// roundCoord is the single rounding rule of the protocol: nearest integer,
// ties to even. Round 1 uses it to derive y and e from x; round 3 uses it
// again on the same x, so z = roundCoord(x) + c·s exactly; nothing relies
// on rounding x + c·s. (Until session 3 this was math.Round, halves away
// from zero; the two differ only at exact ties, which have probability
// about 2^−37 per coordinate at the sizes used, and either is a
// nearest-integer rounding. A party rounds only its own x, so parties
// running either version interoperate.)
//
// Adding 1.5·2^52 to |v| < 2^51 leaves a float64 whose unit in the last
// place is 1, so the addition itself rounds v to the nearest integer (ties to
// even, the IEEE default Go always uses), and the low 32 bits of the
// significand hold that integer in two's complement. Valid for |v| < 2^31;
// TestRoundCoord compares it with math.RoundToEven.
func roundCoord(v float64) int32 {
	const magic = 0x1.8p52
	return int32(uint32(math.Float64bits(v + magic)))
}

// ballModQ returns roundCoord(v) mod q for a coordinate of a sampled point.
// Every such coordinate has |v| ≤ ν·r′ < q − 1 (checked for every parameter
// row by TestBallCoordinatesBelowQ), so the rounded value lies in (−q, q)
// and one conditional addition of q reduces it.
func ballModQ(v float64) uint32 {
	r := roundCoord(v)
	return uint32(r + (r>>31)&fips204.Q)
}
