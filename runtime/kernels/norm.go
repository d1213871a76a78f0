package kernels

// RMSNorm normalizes each of rows rows of width d:
//
//	rstd[r] = 1/sqrt(mean(x[r,:]²) + eps)
//	y[r,j]  = x[r,j] * rstd[r] * g[j]
//
// y may alias x.
func RMSNorm[F Float](y, rstd, x, g []F, rows, d int, eps F) {
	checkNorm("RMSNorm", rows, d, len(y), len(x), len(g), len(rstd))
	if is32[F]() {
		rmsNorm(as32(y), as32(rstd), as32(x), as32(g), rows, d, float32(eps))
	} else {
		rmsNorm(as64(y), as64(rstd), as64(x), as64(g), rows, d, float64(eps))
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
	if is32[F]() {
		rmsNormBackward(as32(dx), as32(dg), as32(dy), as32(x), as32(g), as32(rstd), rows, d)
	} else {
		rmsNormBackward(as64(dx), as64(dg), as64(dy), as64(x), as64(g), as64(rstd), rows, d)
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
	if is32[F]() {
		layerNorm(as32(y), as32(mean), as32(rstd), as32(x), as32(g), as32(b), rows, d, float32(eps))
	} else {
		layerNorm(as64(y), as64(mean), as64(rstd), as64(x), as64(g), as64(b), rows, d, float64(eps))
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
	if is32[F]() {
		layerNormBackward(as32(dx), as32(dg), as32(db), as32(dy), as32(x), as32(g), as32(mean), as32(rstd), rows, d)
	} else {
		layerNormBackward(as64(dx), as64(dg), as64(db), as64(dy), as64(x), as64(g), as64(mean), as64(rstd), rows, d)
	}
}

func checkNorm(kernel string, rows, d, ny, nx, ng, nrstd int) {
	checkLen(kernel, "x", nx, rows*d)
	checkLen(kernel, "y", ny, rows*d)
	checkLen(kernel, "g", ng, d)
	checkLen(kernel, "rstd", nrstd, rows)
}

// Operands in ewTask: a=y/dx b=x c=g d=rstd e=mean f=b/dy g=dg h=db.

func rmsNorm[T real](y, rstd, x, g []T, rows, d int, eps T) {
	t := getEW[T]()
	t.a, t.b, t.c, t.d, t.w, t.s = y, x, g[:d], rstd, d, eps
	t.kind = ewRmsNormChunk
	t.run(rows, 2*d)
	putEW(t)
}

func rmsNormBackward[T real](dx, dg, dy, x, g, rstd []T, rows, d int) {
	t := getEW[T]()
	t.a, t.b, t.c, t.d, t.f, t.w = dx, x, g[:d], rstd, dy, d
	_, chunks := ewChunks(rows, 4*d)
	t.g = t.partials(chunks, d)
	t.kind = ewRmsNormBackwardChunk
	t.run(rows, 4*d)
	sumPartials(dg[:d], t.g, chunks)
	putEW(t)
}

func layerNorm[T real](y, mean, rstd, x, g, b []T, rows, d int, eps T) {
	t := getEW[T]()
	t.a, t.b, t.c, t.d, t.e, t.f, t.w, t.s = y, x, g[:d], rstd, mean, b[:d], d, eps
	t.kind = ewLayerNormChunk
	t.run(rows, 3*d)
	putEW(t)
}

func layerNormBackward[T real](dx, dg, db, dy, x, g, mean, rstd []T, rows, d int) {
	t := getEW[T]()
	t.a, t.b, t.c, t.d, t.e, t.f, t.w = dx, x, g[:d], rstd, mean, dy, d
	_, chunks := ewChunks(rows, 5*d)
	p := t.partials(chunks, 2*d)
	t.g, t.h = p[:chunks*d], p[chunks*d:]
	t.kind = ewLayerNormBackwardChunk
	t.run(rows, 5*d)
	sumPartials(dg[:d], t.g, chunks)
	sumPartials(db[:d], t.h, chunks)
	putEW(t)
}
