package kernels

import "math"

// Row kernels of the float32 attention: softmax of a score row and the
// dS = P*(dP - D)*scale step, in float32 with several accumulators.

// attnMax32 returns the maximum of x (-Inf when empty).
func attnMax32(x []float32) float32 {
	m0 := float32(math.Inf(-1))
	m1, m2, m3 := m0, m0, m0
	for len(x) >= 4 {
		m0, m1, m2, m3 = max(m0, x[0]), max(m1, x[1]), max(m2, x[2]), max(m3, x[3])
		x = x[4:]
	}
	for _, v := range x {
		m0 = max(m0, v)
	}
	return max(m0, m1, m2, m3)
}

// attnScale32 multiplies x by c.
func attnScale32(x []float32, c float32) {
	for len(x) >= 4 {
		x[0] *= c
		x[1] *= c
		x[2] *= c
		x[3] *= c
		x = x[4:]
	}
	for i := range x {
		x[i] *= c
	}
}

// attnDot32 returns Σ a·b in float64.
func attnDot32(a, b []float32) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	for len(a) >= 4 && len(b) >= 4 {
		s0 += float64(a[0]) * float64(b[0])
		s1 += float64(a[1]) * float64(b[1])
		s2 += float64(a[2]) * float64(b[2])
		s3 += float64(a[3]) * float64(b[3])
		a, b = a[4:], b[4:]
	}
	for i, v := range a {
		s0 += float64(v) * float64(b[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// attnSoftmaxRow32 turns row (scaled scores) into probabilities in place
// and returns the log-sum-exp.
func attnSoftmaxRow32(row []float32) float32 {
	m := attnMax32(row)
	sum := vexpSubSum32(row, row, m)
	attnScale32(row, float32(1/sum))
	return float32(float64(m) + math.Log(sum))
}

// attnProbRow32 recomputes probabilities from scaled scores and their lse.
func attnProbRow32(row []float32, lse float32) {
	vexpSubSum32(row, row, lse)
}

// attnDSRow32 sets dp = p*(dp - d)*scale.
func attnDSRow32(dp, p []float32, d, scale float32) {
	p = p[:len(dp)]
	for len(dp) >= 4 && len(p) >= 4 {
		dp[0] = p[0] * (dp[0] - d) * scale
		dp[1] = p[1] * (dp[1] - d) * scale
		dp[2] = p[2] * (dp[2] - d) * scale
		dp[3] = p[3] * (dp[3] - d) * scale
		dp, p = dp[4:], p[4:]
	}
	for i := range dp {
		dp[i] = p[i] * (dp[i] - d) * scale
	}
}
