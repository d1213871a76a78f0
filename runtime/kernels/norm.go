package kernels

import "math"

// RMSNorm normalizes each of rows rows of width d:
//
//	rstd[r] = 1/sqrt(mean(x[r,:]²) + eps)
//	y[r,j]  = x[r,j] * rstd[r] * g[j]
//
// y may alias x.
func RMSNorm[F Float](y, rstd, x, g []F, rows, d int, eps F) {
	checkNorm("RMSNorm", rows, d, len(y), len(x), len(g), len(rstd))
	for r := range rows {
		xr := x[r*d : r*d+d]
		rs := 1 / math.Sqrt(SumSquares(xr)/float64(d)+float64(eps))
		rstd[r] = F(rs)
		yr := y[r*d : r*d+d]
		s := F(rs)
		for j := range yr {
			yr[j] = xr[j] * s * g[j]
		}
	}
}

// RMSNormBackward accumulates the gradients of RMSNorm:
//
//	dx[r,i] += rstd*g[i]*dy[r,i] - rstd³/d * x[r,i] * Σ_j dy[r,j]*g[j]*x[r,j]
//	dg[i]   += Σ_r dy[r,i] * x[r,i] * rstd[r]
func RMSNormBackward[F Float](dx, dg, dy, x, g, rstd []F, rows, d int) {
	checkNorm("RMSNormBackward", rows, d, len(dx), len(x), len(g), len(rstd))
	checkLen("RMSNormBackward", "dy", len(dy), rows*d)
	checkLen("RMSNormBackward", "dg", len(dg), d)
	g, dg = g[:d], dg[:d]
	for r := range rows {
		xr, dyr, dxr := x[r*d:r*d+d], dy[r*d:r*d+d], dx[r*d:r*d+d]
		rs := float64(rstd[r])
		var dot float64
		for j := range xr {
			dot += float64(dyr[j] * g[j] * xr[j])
		}
		c := F(rs * rs * rs * dot / float64(d))
		s := F(rs)
		for j := range xr {
			dxr[j] += s*g[j]*dyr[j] - c*xr[j]
			dg[j] += dyr[j] * xr[j] * s
		}
	}
}

// LayerNorm normalizes each of rows rows of width d:
//
//	mean[r] = mean(x[r,:]); rstd[r] = 1/sqrt(var(x[r,:]) + eps)
//	y[r,j]  = (x[r,j]-mean[r]) * rstd[r] * g[j] + b[j]
//
// y may alias x.
func LayerNorm[F Float](y, mean, rstd, x, g, b []F, rows, d int, eps F) {
	checkNorm("LayerNorm", rows, d, len(y), len(x), len(g), len(rstd))
	checkLen("LayerNorm", "mean", len(mean), rows)
	checkLen("LayerNorm", "b", len(b), d)
	g, b = g[:d], b[:d]
	for r := range rows {
		xr := x[r*d : r*d+d]
		var s float64
		for _, v := range xr {
			s += float64(v)
		}
		mu := s / float64(d)
		var v2 float64
		for _, v := range xr {
			t := float64(v) - mu
			v2 += t * t
		}
		rs := 1 / math.Sqrt(v2/float64(d)+float64(eps))
		mean[r], rstd[r] = F(mu), F(rs)
		yr := y[r*d : r*d+d]
		m, sc := F(mu), F(rs)
		for j := range yr {
			yr[j] = (xr[j]-m)*sc*g[j] + b[j]
		}
	}
}

// LayerNormBackward accumulates the gradients of LayerNorm. With
// xhat = (x-mean)*rstd and dxhat = dy*g:
//
//	dx += rstd * (dxhat - mean(dxhat) - xhat*mean(dxhat*xhat))
//	dg += Σ_r dy*xhat;  db += Σ_r dy
func LayerNormBackward[F Float](dx, dg, db, dy, x, g, mean, rstd []F, rows, d int) {
	checkNorm("LayerNormBackward", rows, d, len(dx), len(x), len(g), len(rstd))
	checkLen("LayerNormBackward", "dy", len(dy), rows*d)
	checkLen("LayerNormBackward", "mean", len(mean), rows)
	checkLen("LayerNormBackward", "dg", len(dg), d)
	checkLen("LayerNormBackward", "db", len(db), d)
	g, dg, db = g[:d], dg[:d], db[:d]
	for r := range rows {
		xr, dyr, dxr := x[r*d:r*d+d], dy[r*d:r*d+d], dx[r*d:r*d+d]
		m, rs := mean[r], rstd[r]
		var s1, s2 float64
		for j := range xr {
			xh := (xr[j] - m) * rs
			dxh := dyr[j] * g[j]
			s1 += float64(dxh)
			s2 += float64(dxh * xh)
			dg[j] += dyr[j] * xh
			db[j] += dyr[j]
		}
		m1, m2 := F(s1/float64(d)), F(s2/float64(d))
		for j := range xr {
			xh := (xr[j] - m) * rs
			dxr[j] += rs * (dyr[j]*g[j] - m1 - xh*m2)
		}
	}
}

func checkNorm(kernel string, rows, d, ny, nx, ng, nrstd int) {
	checkLen(kernel, "x", nx, rows*d)
	checkLen(kernel, "y", ny, rows*d)
	checkLen(kernel, "g", ng, d)
	checkLen(kernel, "rstd", nrstd, rows)
}
