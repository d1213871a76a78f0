// Package lower turns a checked model (check.Model) into an ir.Program's
// forward list: token embedding (plus learned positions), every sub-layer in
// order, the final norm, the head and the loss.
//
// A sub-layer is a primitive wrapped in a norm and an optional residual.
// With pre placement it computes h = norm(x), f = prim(h), y = x + f; with
// post placement f = prim(x), s = x + f, y = norm(s). The primitives:
//
//	attention:  qkv = h·W_qkv [in, 3·H·Dh];  a = attention(qkv);  f = a·W_out [H·Dh, out]
//	ffn:        u = h·W_up [in, hidden];  a = act(u);  f = a·W_down [hidden, out]
//	gated ffn:  u = h·W_up [in, 2·hidden];  a = glu(u) (gate half first)
//	moe:        f, aux = moe(h, router [d,E], experts.up [E,d,H1], experts.down [E,hidden,d])
//
// A moe layer is one fused op (runtime/moe does routing, experts and
// combine); its second result, the weighted router losses, is added to the
// cross-entropy: Loss = CE + Σ aux over the moe layers in order (Program.CE
// keeps the cross-entropy). The router is normal(0.02) without weight
// decay, the experts' up and down like a dense ffn's.
//
// Parameter names, shapes and initialisation follow docs/internals.md:
// matrices and the token embedding are normal(0.02), the output projections
// (.out, .down) normal(0.02/√(2·blocks)) as in GPT-2, where blocks counts
// block instances; learned positions normal(0.01); norm scales ones, biases
// zeros. Weight decay applies to matrices and embeddings, not to norms.
// Instructions carry the .bf position of their construct and the dotted
// name of their sub-layer ("embed", "norm", "head", "loss" outside blocks).
package lower
