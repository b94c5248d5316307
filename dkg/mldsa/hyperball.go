package mldsa

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sync"
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
// a per-layer threshold, one multiplication and a sign bit; it runs in a
// tight loop over a block of words decoded from the key stream. The
// threshold is chosen so that the integer test accepts exactly the words the
// floating-point test x < x_{i+1} accepts, so the output is bit for bit the
// same as the straightforward formulation (TestGaussiansMatchReference).
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
	raw   []byte   // key stream bytes of the current block
	words []uint64 // raw decoded as little-endian words
	pos   int      // next unused word
	extra [gaussDim - dimAll]float64
}

const (
	zigLayers = 256
	zigR      = 3.6541528853610088    // right edge of the base layer
	zigV      = 0.00492867323399      // area of every layer (base layer: rectangle + tail)
	randWords = 1024                  // random words fetched at a time
	gaussDim  = dimAll + 2            // Gaussians per ball point
	uniScale  = 1.0 / (1 << 53)       // 2^−53
	zigSign   = uint64(1) << 8        // sign bit
	zigShift  = 11                    // 64 − 53: the abscissa bits
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
}

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
	return t
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
		c:     cipher.NewCTR(block, iv[:]),
		t:     zigTables(),
		raw:   make([]byte, 8*randWords),
		words: make([]uint64, randWords),
		pos:   randWords,
	}, nil
}

// refill decodes the next block of key stream into words.
func (b *ballSampler) refill() {
	clear(b.raw)
	b.c.XORKeyStream(b.raw, b.raw)
	raw := b.raw[:8*len(b.words)]
	for i := range b.words {
		b.words[i] = binary.LittleEndian.Uint64(raw[8*i:])
	}
	clear(b.raw)
	b.pos = 0
}

// u64 returns 64 fresh random bits.
func (b *ballSampler) u64() uint64 {
	if b.pos == len(b.words) {
		b.refill()
	}
	v := b.words[b.pos]
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
// random words in order.
func (b *ballSampler) gaussians(g []float64) {
	t := b.t
	for len(g) > 0 {
		if b.pos == len(b.words) {
			b.refill()
		}
		w := b.words[b.pos:]
		if len(w) > len(g) {
			w = w[:len(g)]
		}
		out := g[:len(w)]
		n := 0
		for k, u := range w {
			i := uint8(u)
			m := u >> zigShift
			if m >= t.fast[i] {
				break
			}
			out[k] = signed(float64(int64(m))*t.scale[i], u)
			n++
		}
		b.pos += n
		g = g[n:]
		if n < len(w) {
			u := b.words[b.pos]
			b.pos++
			g[0] = b.gaussSlow(u)
			g = g[1:]
		}
	}
}

// gauss returns one standard normal sample.
func (b *ballSampler) gauss() float64 {
	var g [1]float64
	b.gaussians(g[:])
	return g[0]
}

// gaussSlow finishes a sample whose first word u fell outside its layer's
// rectangle: the base layer's tail, or the wedge test; on rejection it starts
// over with fresh words.
func (b *ballSampler) gaussSlow(u uint64) float64 {
	t := b.t
	for {
		i := uint8(u)
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
		y := t.f[i] + (float64(int64(b.u64()>>zigShift))*uniScale)*(t.f[i+1]-t.f[i])
		if y < math.Exp(-0.5*x*x) {
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
	b.gaussians(x)
	b.gaussians(b.extra[:])
	// Four independent sums keep the additions off one dependency chain.
	var s0, s1, s2, s3 float64
	for i := 0; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		s0 += v[0] * v[0]
		s1 += v[1] * v[1]
		s2 += v[2] * v[2]
		s3 += v[3] * v[3]
	}
	for _, v := range b.extra {
		s0 += v * v
	}
	scale := radius / math.Sqrt((s0+s1)+(s2+s3))
	sy := scale * nu
	y := x[:dimY]
	for i := range y {
		y[i] *= sy
	}
	e := x[dimY:]
	for i := range e {
		e[i] *= scale
	}
}

// wipe erases the sampler's buffers.
func (b *ballSampler) wipe() {
	clear(b.raw)
	clear(b.words)
	clear(b.extra[:])
	b.pos = len(b.words)
}

// roundCoord is the single rounding rule of the protocol: nearest integer,
// ties to even (ties have probability about 2^−30 per coordinate at the
// sizes used and either choice is a nearest integer). Round 1 uses it to
// derive y and e from x; round 3 uses it again on the same x, so
// z = roundCoord(x) + c·s exactly; nothing relies on rounding x + c·s.
//
// Adding 1.5·2^52 to |v| < 2^51 leaves a float64 whose unit in the last
// place is 1, so the addition itself rounds v to the nearest integer (ties to
// even, the IEEE default Go always uses), and the low 32 bits of the
// significand hold that integer in two's complement. Valid for |v| < 2^31.
func roundCoord(v float64) int32 {
	const magic = 0x1.8p52
	return int32(uint32(math.Float64bits(v + magic)))
}
