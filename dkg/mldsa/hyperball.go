package mldsa

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"io"
	"math"
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
	c   cipher.Stream
	buf []byte
	pos int
	g   []float64
	zx  [zigLayers + 1]float64 // layer edges x_0 > x_1 = r > … > x_255 > x_256 = 0
	zf  [zigLayers + 1]float64 // f(x_i) = exp(−x_i²/2)
}

const (
	zigLayers = 256
	zigR      = 3.6541528853610088    // right edge of the base layer
	zigV      = 0.00492867323399      // area of every layer (base layer: rectangle + tail)
	randBuf   = 8 * 1024              // random bytes fetched at a time
	gaussDim  = dimAll + 2            // Gaussians per ball point
	uniScale  = 1.0 / (1 << 53)       // 2^−53
	zigFMask  = uint64(zigLayers - 1) // layer index bits
	zigSign   = uint64(1) << 8        // sign bit
	zigShift  = 11                    // 64 − 53: the abscissa bits
	tailInv   = 1 / zigR
	_         = uint8(zigLayers - 256) // zigLayers must be 256 (8 index bits)
)

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
	b := &ballSampler{c: cipher.NewCTR(block, iv[:]), buf: make([]byte, randBuf), pos: randBuf, g: make([]float64, gaussDim)}
	b.zigTables()
	return b, nil
}

// zigTables computes the ziggurat layer edges: x_1 = r, x_0 = v/f(r) (the
// width of a rectangle of area v at height f(r)), and
// x_{i+1} = f^{−1}(v/x_i + f(x_i)).
func (b *ballSampler) zigTables() {
	f := func(x float64) float64 { return math.Exp(-0.5 * x * x) }
	b.zx[0] = zigV / f(zigR)
	b.zx[1] = zigR
	for i := 1; i < zigLayers-1; i++ {
		b.zx[i+1] = math.Sqrt(-2 * math.Log(zigV/b.zx[i]+f(b.zx[i])))
	}
	b.zx[zigLayers] = 0
	for i := range b.zx {
		b.zf[i] = f(b.zx[i])
	}
}

// u64 returns 64 fresh random bits.
func (b *ballSampler) u64() uint64 {
	if b.pos == len(b.buf) {
		clear(b.buf)
		b.c.XORKeyStream(b.buf, b.buf)
		b.pos = 0
	}
	v := binary.LittleEndian.Uint64(b.buf[b.pos:])
	b.pos += 8
	return v
}

// uniOpen returns a uniform double in (0, 1].
func (b *ballSampler) uniOpen() float64 { return (float64(b.u64()>>zigShift) + 1) * uniScale }

// gauss returns a standard normal sample.
func (b *ballSampler) gauss() float64 {
	for {
		u := b.u64()
		i := u & zigFMask
		x := float64(u>>zigShift) * uniScale * b.zx[i]
		neg := u&zigSign != 0
		if x < b.zx[i+1] {
			if neg {
				return -x
			}
			return x
		}
		if i == 0 {
			// Tail beyond r: Marsaglia (1964).
			for {
				a := -math.Log(b.uniOpen()) * tailInv
				c := -math.Log(b.uniOpen())
				if c+c >= a*a {
					x = zigR + a
					break
				}
			}
		} else {
			// Wedge: a uniform height in [f(x_i), f(x_{i+1})] below f(x)?
			y := b.zf[i] + (float64(b.u64()>>zigShift)*uniScale)*(b.zf[i+1]-b.zf[i])
			if y >= math.Exp(-0.5*x*x) {
				continue
			}
		}
		if neg {
			return -x
		}
		return x
	}
}

// sample writes into x (length dimAll) a point uniform in the ball of radius
// radius, with the first dimY coordinates then multiplied by nu (an
// ellipsoid).
func (b *ballSampler) sample(x []float64, radius, nu float64) {
	g := b.g
	var sum float64
	for i := range g {
		v := b.gauss()
		g[i] = v
		sum += v * v
	}
	scale := radius / math.Sqrt(sum)
	x = x[:dimAll]
	for i := 0; i < dimY; i++ {
		x[i] = g[i] * scale * nu
	}
	for i := dimY; i < dimAll; i++ {
		x[i] = g[i] * scale
	}
}

// wipe erases the sampler's buffers.
func (b *ballSampler) wipe() {
	clear(b.buf)
	clear(b.g)
	b.pos = len(b.buf)
}

// roundCoord is the single rounding rule of the protocol (nearest integer,
// halves away from zero). Round 1 uses it to derive y and e from x; round 3
// uses it again on the same x, so z = roundCoord(x) + c·s exactly.
func roundCoord(v float64) int32 { return int32(math.Round(v)) }
