package plantest

import (
	"github.com/bfcdev/bfc/compiler/ir"
)

// differentiate appends the backward list of p: a reverse walk of Forward in
// which every instruction adds its contribution to the gradients of its
// arguments, creating them on first use.
func differentiate(p *ir.Program) {
	for _, v := range p.Params {
		g := p.NewValue(v.Name, ir.KindGrad, ir.Float, v.Rows, v.Cols, v.Pos)
		g.GradOf, v.Grad = v, g
	}
	p.DLoss = p.NewValue("dloss", ir.KindTemp, ir.Float, p.Loss.Rows, p.Loss.Cols, p.Loss.Pos)
	p.DLoss.GradOf, p.Loss.Grad = p.Loss, p.DLoss

	grad := func(v *ir.Value) *ir.Value {
		if v.Kind == ir.KindInput {
			return nil
		}
		if v.Grad == nil {
			g := p.NewValue("d"+v.Name, ir.KindTemp, ir.Float, v.Rows, v.Cols, v.Pos)
			g.GradOf, v.Grad = v, g
		}
		return v.Grad
	}
	emit := func(fwd *ir.Instr, op ir.Op, a ir.Attrs, outs []*ir.Value, args ...*ir.Value) {
		p.Backward = append(p.Backward, &ir.Instr{Op: op, Args: args, Outs: outs, Attrs: a, Pos: fwd.Pos, Layer: fwd.Layer})
	}
	for i := len(p.Forward) - 1; i >= 0; i-- {
		in := p.Forward[i]
		dy := in.Outs[0].Grad
		if dy == nil {
			continue // nothing downstream depends on this instruction
		}
		args := in.Args
		switch in.Op {
		case ir.OpEmbed:
			emit(in, ir.OpEmbedGrad, ir.Attrs{}, []*ir.Value{grad(args[1])}, dy, args[0])
		case ir.OpAddPos:
			emit(in, ir.OpAccum, ir.Attrs{}, []*ir.Value{grad(args[0])}, dy)
			emit(in, ir.OpAddPosGrad, ir.Attrs{}, []*ir.Value{grad(args[1])}, dy)
		case ir.OpMatMul:
			A, B := args[0], args[1]
			if in.Attrs.TransB { // C = A·Bᵀ: dA += dC·B, dB += dCᵀ·A
				emit(in, ir.OpMatMul, ir.Attrs{Acc: true}, []*ir.Value{grad(A)}, dy, B)
				emit(in, ir.OpMatMul, ir.Attrs{Acc: true, TransA: true}, []*ir.Value{grad(B)}, dy, A)
			} else { // C = A·B: dA += dC·Bᵀ, dB += Aᵀ·dC
				emit(in, ir.OpMatMul, ir.Attrs{Acc: true, TransB: true}, []*ir.Value{grad(A)}, dy, B)
				emit(in, ir.OpMatMul, ir.Attrs{Acc: true, TransA: true}, []*ir.Value{grad(B)}, A, dy)
			}
		case ir.OpRMSNorm:
			emit(in, ir.OpRMSNormGrad, ir.Attrs{}, []*ir.Value{grad(args[0]), grad(args[1])}, dy, args[0], args[1], in.Outs[1])
		case ir.OpLayerNorm:
			emit(in, ir.OpLayerNormGrad, ir.Attrs{}, []*ir.Value{grad(args[0]), grad(args[1]), grad(args[2])},
				dy, args[0], args[1], in.Outs[1], in.Outs[2])
		case ir.OpAttention:
			emit(in, ir.OpAttentionGrad, in.Attrs, []*ir.Value{grad(args[0])}, dy, args[0], in.Outs[0], in.Outs[1])
		case ir.OpAct:
			emit(in, ir.OpActGrad, in.Attrs, []*ir.Value{grad(args[0])}, dy, args[0])
		case ir.OpGLU:
			emit(in, ir.OpGLUGrad, in.Attrs, []*ir.Value{grad(args[0])}, dy, args[0])
		case ir.OpAdd:
			emit(in, ir.OpAccum, ir.Attrs{}, []*ir.Value{grad(args[0])}, dy)
			emit(in, ir.OpAccum, ir.Attrs{}, []*ir.Value{grad(args[1])}, dy)
		case ir.OpCrossEntropy:
			emit(in, ir.OpCrossEntropyGrad, ir.Attrs{}, []*ir.Value{grad(args[0])}, dy, args[0], in.Outs[1], args[1])
		}
	}
}
