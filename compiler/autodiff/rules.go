package autodiff

import "github.com/bfcdev/bfc/compiler/ir"

// Rules maps every forward op to its gradient rule. Backward ops
// (ir.Op.IsBackward) have none; a test checks that every op is one or the
// other.
var Rules = map[ir.Op]Rule{
	ir.OpEmbed:        embedRule,
	ir.OpAddPos:       addPosRule,
	ir.OpMatMul:       matmulRule,
	ir.OpRMSNorm:      rmsNormRule,
	ir.OpLayerNorm:    layerNormRule,
	ir.OpAttention:    attentionRule,
	ir.OpAct:          actRule,
	ir.OpGLU:          gluRule,
	ir.OpAdd:          addRule,
	ir.OpCrossEntropy: crossEntropyRule,
	ir.OpMoE:          moeRule,
}

func args(vs ...*ir.Value) []*ir.Value { return vs }

// y = table[tokens]: dtable[tokens[t]] += dy[t].
func embedRule(g *Grads, in *ir.Instr) {
	if dt := g.Of(in.Args[1]); dt != nil {
		g.Emit(ir.OpEmbedGrad, ir.Attrs{}, args(g.Out(0), in.Args[0]), dt)
	}
}

// y = x + pos (broadcast over the batch): dx += dy; dpos += Σ_b dy.
func addPosRule(g *Grads, in *ir.Instr) {
	dy := g.Out(0)
	if dp := g.Of(in.Args[1]); dp != nil {
		g.Emit(ir.OpAddPosGrad, ir.Attrs{}, args(dy), dp)
	}
	if dx := g.Of(in.Args[0]); dx != nil {
		g.Emit(ir.OpAccum, ir.Attrs{}, args(dy), dx)
	}
}

// C = op(A)·op(B):
//
//	dA += dC·op(B)ᵀ      (A stored as is)     dA += op(B)·dCᵀ    (A stored transposed)
//	dB += op(A)ᵀ·dC      (B stored as is)     dB += dCᵀ·op(A)    (B stored transposed)
//
// with op(X)ᵀ expressed through the trans flags of the new matmuls.
func matmulRule(g *Grads, in *ir.Instr) {
	dc, A, B := g.Out(0), in.Args[0], in.Args[1]
	ta, tb := in.Attrs.TransA, in.Attrs.TransB
	if dB := g.Of(B); dB != nil {
		if !tb {
			g.Emit(ir.OpMatMul, ir.Attrs{TransA: !ta, Acc: true}, args(A, dc), dB)
		} else {
			g.Emit(ir.OpMatMul, ir.Attrs{TransA: true, TransB: ta, Acc: true}, args(dc, A), dB)
		}
	}
	if dA := g.Of(A); dA != nil {
		if !ta {
			g.Emit(ir.OpMatMul, ir.Attrs{TransB: !tb, Acc: true}, args(dc, B), dA)
		} else {
			g.Emit(ir.OpMatMul, ir.Attrs{TransA: tb, TransB: true, Acc: true}, args(B, dc), dA)
		}
	}
}

// y = rmsnorm(x)·g, saving rstd.
func rmsNormRule(g *Grads, in *ir.Instr) {
	x, s := in.Args[0], in.Args[1]
	g.Emit(ir.OpRMSNormGrad, ir.Attrs{}, args(g.Out(0), x, s, in.Outs[1]), g.Sink(x), g.Sink(s))
}

// y = (x-mean)·rstd·g + b, saving mean and rstd.
func layerNormRule(g *Grads, in *ir.Instr) {
	x, s, b := in.Args[0], in.Args[1], in.Args[2]
	g.Emit(ir.OpLayerNormGrad, ir.Attrs{}, args(g.Out(0), x, s, in.Outs[1], in.Outs[2]), g.Sink(x), g.Sink(s), g.Sink(b))
}

// y = attention(qkv), saving the log-sum-exp of every query's scores; the
// backward kernel recomputes the probabilities from it.
func attentionRule(g *Grads, in *ir.Instr) {
	qkv := in.Args[0]
	if dqkv := g.Of(qkv); dqkv != nil {
		g.Emit(ir.OpAttentionGrad, in.Attrs, args(g.Out(0), qkv, in.Outs[0], in.Outs[1]), dqkv)
	}
}

// y = act(x): dx += dy·act'(x).
func actRule(g *Grads, in *ir.Instr) {
	if dx := g.Of(in.Args[0]); dx != nil {
		g.Emit(ir.OpActGrad, ir.Attrs{Act: in.Attrs.Act}, args(g.Out(0), in.Args[0]), dx)
	}
}

// y = act(gate)·up: dgate += dy·up·act'(gate); dup += dy·act(gate).
func gluRule(g *Grads, in *ir.Instr) {
	if dx := g.Of(in.Args[0]); dx != nil {
		g.Emit(ir.OpGLUGrad, ir.Attrs{Act: in.Attrs.Act}, args(g.Out(0), in.Args[0]), dx)
	}
}

// y = a + b: da += dy; db += dy.
func addRule(g *Grads, in *ir.Instr) {
	dy := g.Out(0)
	for _, a := range in.Args {
		if da := g.Of(a); da != nil {
			g.Emit(ir.OpAccum, ir.Attrs{}, args(dy), da)
		}
	}
}

// loss = mean over counted rows of lse - logits[target], saving lse:
// dlogits += dloss·(softmax(logits) - onehot(target))/count.
func crossEntropyRule(g *Grads, in *ir.Instr) {
	logits, targets := in.Args[0], in.Args[1]
	if dl := g.Of(logits); dl != nil {
		g.Emit(ir.OpCrossEntropyGrad, ir.Attrs{}, args(g.Out(0), logits, in.Outs[1], targets), dl)
	}
}

// y, aux = moe(x, router, up, down): one fused backward op. Given dy and
// daux it accumulates into all four argument gradients, from the routing
// decisions the forward op left in the layer's workspace: gradients flow
// through the gates (the router probabilities of the selected
// token-expert pairs, renormalised for top_k) and the experts, never
// through the selection itself, which is piecewise constant; daux scales
// the router losses' gradients (load balance: through the mean router
// probabilities; z-loss: through the router logits). Both results must
// reach the loss, as lowering arranges (Loss = CE + Σ aux).
func moeRule(g *Grads, in *ir.Instr) {
	dy, daux := g.Out(0), g.Out(1)
	if dy == nil || daux == nil {
		g.Errorf("both results (y and the router losses) must reach the loss")
		return
	}
	x, wg, w1, w2 := in.Args[0], in.Args[1], in.Args[2], in.Args[3]
	g.Emit(ir.OpMoEGrad, in.Attrs, args(dy, daux, x, wg, w1, w2), g.Sink(x), g.Sink(wg), g.Sink(w1), g.Sink(w2))
}
