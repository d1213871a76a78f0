package tensor

import (
	"math"
	"math/bits"
)

// RNG is a deterministic, seedable PCG generator (128-bit LCG state with
// the DXSM output function, as in math/rand/v2). Its whole state is two
// uint64s, so checkpoints can save and restore it. It is not safe for
// concurrent use.
type RNG struct {
	hi, lo uint64
}

// NewRNG returns a generator seeded with seed. Distinct seeds give
// unrelated streams.
func NewRNG(seed uint64) *RNG {
	s := seed
	r := &RNG{hi: splitmix64(&s), lo: splitmix64(&s)}
	return r
}

func splitmix64(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	z := *s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// State returns the generator state.
func (r *RNG) State() [2]uint64 { return [2]uint64{r.hi, r.lo} }

// SetState restores a state returned by State.
func (r *RNG) SetState(s [2]uint64) { r.hi, r.lo = s[0], s[1] }

// Uint64 returns a uniformly distributed 64-bit value.
func (r *RNG) Uint64() uint64 {
	const (
		mulHi = 2549297995355413924
		mulLo = 4865540595714422341
		incHi = 6364136223846793005
		incLo = 1442695040888963407
	)
	hi, lo := bits.Mul64(r.lo, mulLo)
	hi += r.hi*mulLo + r.lo*mulHi
	lo, c := bits.Add64(lo, incLo, 0)
	hi, _ = bits.Add64(hi, incHi, c)
	r.lo, r.hi = lo, hi

	const cheapMul = 0xda942042e4dd58b5
	hi ^= hi >> 32
	hi *= cheapMul
	hi ^= hi >> 48
	hi *= lo | 1
	return hi
}

// Float64 returns a uniform value in [0, 1).
func (r *RNG) Float64() float64 {
	return float64(r.Uint64()>>11) * 0x1p-53
}

// NormFloat64 returns a standard normal value (Box–Muller; one value per
// call so that the state stays two words).
func (r *RNG) NormFloat64() float64 {
	u := 1 - r.Float64() // (0, 1]
	v := r.Float64()
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*v)
}

// Intn returns a uniform value in [0, n); it panics if n <= 0.
func (r *RNG) Intn(n int) int {
	if n <= 0 {
		panic("tensor.RNG.Intn: n <= 0")
	}
	// Lemire's multiply-and-reject: unbiased.
	un := uint64(n)
	hi, lo := bits.Mul64(r.Uint64(), un)
	if lo < un {
		thresh := -un % un
		for lo < thresh {
			hi, lo = bits.Mul64(r.Uint64(), un)
		}
	}
	return int(hi)
}

// Perm returns a random permutation of [0, n).
func (r *RNG) Perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := r.Intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}
