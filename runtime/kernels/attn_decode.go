package kernels

import "math"

// AttentionDecode is one step of causal Attention with a key/value cache:
// each of batch sequences adds position pos.
//
// qkv is [batch, 3*heads*headDim], the new position's q, k and v in
// Attention's layout. kcache and vcache are [batch, maxSeq,
// heads*headDim]; the new k and v rows are stored at position pos of each
// sequence, and out ([batch, heads*headDim]) gets the attention of q over
// positions 0..pos, as row pos of a causal Attention over those positions.
// scores is scratch of at least pos+1 elements. It does not allocate.
func AttentionDecode[F Float](out, qkv, kcache, vcache, scores []F, batch, maxSeq, pos, heads, headDim int) {
	attentionDecode(out, qkv, kcache, vcache, scores, batch, maxSeq, pos, heads, headDim, false)
}

// AttentionDecodeBF16 is AttentionDecode in bf16 precision, as
// AttentionBF16: q, the cached k and v and the probabilities enter the
// products rounded to bfloat16 (the caches keep float32).
func AttentionDecodeBF16(out, qkv, kcache, vcache, scores []float32, batch, maxSeq, pos, heads, headDim int) {
	attentionDecode(out, qkv, kcache, vcache, scores, batch, maxSeq, pos, heads, headDim, true)
}

func attentionDecode[F Float](out, qkv, kcache, vcache, scores []F, batch, maxSeq, pos, heads, headDim int, bf16 bool) {
	w := heads * headDim
	if pos < 0 || pos >= maxSeq {
		panic("kernels.AttentionDecode: position out of range")
	}
	rb := func(x F) F { return x }
	if bf16 {
		rb = func(x F) F { return F(RoundBF16(float32(x))) }
	}
	checkLen("AttentionDecode", "qkv", len(qkv), batch*3*w)
	checkLen("AttentionDecode", "out", len(out), batch*w)
	checkLen("AttentionDecode", "kcache", len(kcache), batch*maxSeq*w)
	checkLen("AttentionDecode", "vcache", len(vcache), batch*maxSeq*w)
	checkLen("AttentionDecode", "scores", len(scores), pos+1)
	scale := 1 / math.Sqrt(float64(headDim))
	s := scores[:pos+1]
	for b := range batch {
		row := qkv[b*3*w : (b+1)*3*w]
		base := b * maxSeq * w
		copy(kcache[base+pos*w:base+(pos+1)*w], row[w:2*w])
		copy(vcache[base+pos*w:base+(pos+1)*w], row[2*w:])
		for h := range heads {
			q := row[h*headDim : (h+1)*headDim]
			m := math.Inf(-1)
			for t := range s {
				k := kcache[base+t*w+h*headDim:]
				var dot float64
				for c, x := range q {
					dot += float64(rb(x)) * float64(rb(k[c]))
				}
				s[t] = F(dot * scale)
				m = max(m, float64(s[t]))
			}
			var sum float64
			for t, x := range s {
				e := math.Exp(float64(x) - m)
				sum += e
				s[t] = F(e)
			}
			inv := F(1 / sum)
			o := out[b*w+h*headDim : b*w+(h+1)*headDim]
			clear(o)
			for t, p := range s {
				p = rb(p * inv)
				v := vcache[base+t*w+h*headDim : base+t*w+(h+1)*headDim]
				for c, x := range v {
					o[c] += p * rb(x)
				}
			}
		}
	}
}

// AttentionCache stores the k and v columns of qkv ([batch*seq,
// 3*heads*headDim], Attention's layout) at positions 0..seq-1 of kcache
// and vcache ([batch, maxSeq, heads*headDim]), as seq calls of
// AttentionDecode would: the cache a decoder continues from after a full
// Attention over the first seq positions.
func AttentionCache[F Float](kcache, vcache, qkv []F, batch, seq, maxSeq, heads, headDim int) {
	w := heads * headDim
	if seq < 0 || seq > maxSeq {
		panic("kernels.AttentionCache: seq out of range")
	}
	checkLen("AttentionCache", "qkv", len(qkv), batch*seq*3*w)
	checkLen("AttentionCache", "kcache", len(kcache), batch*maxSeq*w)
	checkLen("AttentionCache", "vcache", len(vcache), batch*maxSeq*w)
	for b := range batch {
		for s := range seq {
			row := qkv[(b*seq+s)*3*w:]
			at := (b*maxSeq + s) * w
			copy(kcache[at:at+w], row[w:2*w])
			copy(vcache[at:at+w], row[2*w:3*w])
		}
	}
}
