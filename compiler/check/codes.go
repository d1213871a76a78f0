package check

// The error codes of bfc's front end. Every diagnostic Check returns carries
// one of them in its Code field. Codes are stable names users and tools can
// match on; the messages may change.
//
// Names follow go/types' catalogue: "Bad…" marks a syntax problem,
// "Invalid…" a semantic one, and two errors share a code when one place in
// the checker could emit both.
//
// Each code's doc comment ends with an example that produces it;
// TestCodeExamples checks every one. An example with several files writes
// them txtar-style ("-- name.bf --"); the first is the root. "-set k=v" on
// the Example line passes a build-time override.
const (
	// BadSyntax occurs when a file does not parse. The parser reports the
	// first syntax error of each file; the rest of the file is not checked.
	//
	// Example:
	//
	//	block B(d: dim {
	//	}
	BadSyntax = "BadSyntax"

	// UnknownName occurs when a name does not refer to any constant,
	// parameter, block, layer primitive, routing rule or word usable where it
	// is written.
	// Unknown names in files whose imports failed to load are not reported,
	// since the missing file may have declared them.
	//
	// Example:
	//
	//	dim d = 4 * width
	UnknownName = "UnknownName"

	// DuplicateDecl occurs when a name is declared twice in one namespace:
	// file-level constants, blocks, models and search declarations of all
	// files together, the parameters and local constants of a block, the
	// sub-layers of a block, the constants of a model; also when a block
	// gives its default norm twice, a model repeats a singular statement
	// (input, embed, norm, head, loss) or a call gives an argument twice.
	//
	// Example:
	//
	//	dim d = 256
	//	dim d = 512
	DuplicateDecl = "DuplicateDecl"

	// UnknownAttr occurs when a call names an attribute its primitive or
	// routing rule does not have, or an argument its block does not declare.
	//
	// Example:
	//
	//	block B(d: dim) {
	//	    ff = ffn(hidden: 4 * d, activation: gelu)
	//	}
	UnknownAttr = "UnknownAttr"

	// InvalidAttrType occurs when a value has the wrong type for the
	// attribute, parameter or constant it is given to: a real where a dim is
	// needed, an activation where a bool is needed, arithmetic on bools.
	// Real literals are allowed only where a real is expected; ints promote
	// to reals.
	//
	// Example:
	//
	//	block B(d: dim) {
	//	    ff = ffn(hidden: 2.5 * d)
	//	}
	InvalidAttrType = "InvalidAttrType"

	// MissingAttr occurs when a call omits a required attribute of a
	// primitive, or an argument for a block parameter without a default.
	//
	// Example:
	//
	//	block B(d: dim) {
	//	    attn = attention(causal: true)
	//	}
	MissingAttr = "MissingAttr"

	// MissingStmt occurs when a model lacks one of the statements every
	// model needs: input, embed, at least one repeat, norm, head and loss.
	//
	// Example:
	//
	//	model M {
	//	    input(batch: 8, seq: 64)
	//	    embed(vocab: 256, dim: 64)
	//	}
	MissingStmt = "MissingStmt"

	// InvalidDim occurs when an integer division does not come out even
	// (or divides by zero): the operator in d / heads, or attention's
	// default head_dim (its width divided by heads). Errors that depend on a
	// block's arguments carry a note naming the block instance.
	//
	// Example:
	//
	//	dim d = 256
	//	int heads = 3
	//	dim hd = d / heads
	InvalidDim = "InvalidDim"

	// InvalidSize occurs when a size is out of range: a dim or a count
	// (heads, batch, seq, repeat) that is zero, negative or too large.
	//
	// Example:
	//
	//	dim d = 128 - 256
	InvalidSize = "InvalidSize"

	// WidthMismatch occurs when widths do not fit together: a residual
	// around a sub-layer whose output width differs from its input's, or a
	// tied head on a stream whose final width is not the embedding dim.
	//
	// Example:
	//
	//	block B(d: dim) {
	//	    ff = ffn(hidden: 4 * d, out: 2 * d)
	//	}
	//	model M {
	//	    input(batch: 8, seq: 64)
	//	    embed(vocab: 256, dim: 64)
	//	    repeat 1 B(d: 64)
	//	    norm rms
	//	    head untied
	//	    loss cross_entropy
	//	}
	WidthMismatch = "WidthMismatch"

	// ImportCycle occurs when files import each other in a cycle. The error
	// sits at the import that closes the cycle; its notes list the cycle.
	//
	// Example:
	//
	//	-- a.bf --
	//	import "b.bf"
	//	-- b.bf --
	//	import "a.bf"
	ImportCycle = "ImportCycle"

	// ImportNotFound occurs when an imported file cannot be read: a user
	// file relative to the importing file's directory, or "std/NAME.bf"
	// missing from the standard library.
	//
	// Example:
	//
	//	import "std/no_such_block.bf"
	ImportNotFound = "ImportNotFound"

	// InvalidOverride occurs when a build-time override ("name" or
	// "Model.name" set to a value's text) names no file-level or model-level
	// constant, or its text is not a literal of the constant's type.
	//
	// Example (-set d=wide):
	//
	//	dim d = 256
	InvalidOverride = "InvalidOverride"

	// UnsupportedLayer occurs when a block uses a layer this version of bfc
	// recognises but cannot build, or nests one block in another.
	//
	// Example:
	//
	//	block mlp(d: dim) {
	//	    ff = ffn(hidden: 4 * d)
	//	}
	//	block B(d: dim) {
	//	    m = mlp(d: d)
	//	}
	UnsupportedLayer = "UnsupportedLayer"

	// InvalidValue occurs when a value is of the right type but not one the
	// language accepts: an unknown norm kind, activation or placement word,
	// a non-positive eps, a constant defined in terms of itself, an integer
	// that overflows, a list of choices ([a, b]) outside a search
	// declaration.
	//
	// Example:
	//
	//	block B(d: dim) {
	//	    norm batch pre
	//	    ff = ffn(hidden: 4 * d)
	//	}
	InvalidValue = "InvalidValue"

	// InvalidRoute occurs when a moe layer's routing rule cannot work: a
	// capacity that is not positive; expert choice whose k = floor(n·c/E)
	// tokens per expert, at the model's declared maximum group size n, is
	// below 1 or above n; top_k with k below 1 or above the layer's number
	// of experts; an aux loss weight given to expert choice (it balances
	// load by construction) or k given to it (k follows from capacity); a
	// negative loss weight; a rule named without its arguments.
	//
	// Example:
	//
	//	block B(d: dim) {
	//	    m = moe(experts: 4, hidden: 2 * d, route: top_k(k: 8))
	//	}
	InvalidRoute = "InvalidRoute"

	// RouteLeak occurs when a moe layer's routing lets earlier tokens'
	// outputs depend on later tokens of the same sequence in a causal model
	// (one with causal attention anywhere): expert choice over group batch
	// or sequence, where each expert's top-k competition spans later
	// positions, or top_k with k >= 2 over them, where every first choice is
	// placed before any second choice, so whether an earlier token's second
	// choice fits in an expert's capacity depends on later tokens' first
	// choices. The error sits at the group attribute, or at the rule when
	// the group is top_k's default, batch. group: position is causal under
	// both rules, as is top_k with k = 1 over any group; leak: allow accepts
	// the leak knowingly.
	//
	// Example:
	//
	//	block B(d: dim) {
	//	    attn = attention(heads: 4, causal: true)
	//	    m = moe(experts: 4, hidden: 2 * d, route: top_k(k: 2, group: sequence))
	//	}
	//	model M {
	//	    input(batch: 8, seq: 64)
	//	    embed(vocab: 256, dim: 64)
	//	    repeat 1 B(d: 64)
	//	    norm rms
	//	    head tied
	//	    loss cross_entropy
	//	}
	RouteLeak = "RouteLeak"

	// EmptySpace occurs when no candidate of a search declaration can pass
	// the checker, for a reason visible without building candidates: no d
	// of the space divides by any of its attention heads (with head_dim
	// left to d / heads), or every routing rule of its moe layers gives an
	// expert no token. bfc search also refuses a space none of whose
	// randomly drawn candidates passes, naming the commonest refusals.
	//
	// Example:
	//
	//	model M {
	//	    input(batch: 8, seq: 64)
	//	    embed(vocab: 256, dim: 64)
	//	    repeat 1 Transformer(d: 64, heads: 4)
	//	    norm rms
	//	    head tied
	//	    loss cross_entropy
	//	}
	//	block Transformer(d: dim, heads: int) {
	//	    attn = attention(heads: heads, causal: true)
	//	    mlp = ffn(hidden: 4 * d)
	//	}
	//	search S {
	//	    baseline M
	//	    d: [63, 65]
	//	    attention(heads: [4, 8])
	//	}
	EmptySpace = "EmptySpace"
)

// codes lists every code, in catalogue order.
var codes = []string{
	BadSyntax, UnknownName, DuplicateDecl, UnknownAttr, InvalidAttrType,
	MissingAttr, MissingStmt, InvalidDim, InvalidSize, WidthMismatch,
	ImportCycle, ImportNotFound, InvalidOverride, UnsupportedLayer, InvalidValue,
	InvalidRoute, RouteLeak, EmptySpace,
}

// Codes returns every diagnostic code of the checker, in catalogue order.
func Codes() []string { return append([]string(nil), codes...) }
