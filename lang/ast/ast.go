package ast

import "github.com/alecthomas/participle/v2/lexer"

// File is one .bf source file.
//
//	file = { import } { decl }
type File struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Imports []*Import `parser:"@@*"`
	Decls   []*Decl   `parser:"@@*"`

	// Comments holds every comment of the file in source order. The parser
	// fills it; it is not part of the grammar.
	Comments []*Comment `parser:""`
	// Name is the file name given to the parser.
	Name string `parser:""`
}

// Comment is one line comment ("// ...") with its position.
type Comment struct {
	Pos  lexer.Position
	Text string // including the leading "//"
}

// Import names another .bf file: "std/NAME.bf" for the standard library or
// a path relative to the importing file.
//
//	import = "import" string
type Import struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Path string `parser:"\"import\" @String"`
}

// Decl is a top-level declaration.
//
//	decl = const | block | model | search
type Decl struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Const  *Const  `parser:"@@"`
	Block  *Block  `parser:"| @@"`
	Model  *Model  `parser:"| @@"`
	Search *Search `parser:"| @@"`
}

// Const declares a named, typed constant. Constants at file or model level
// can be overridden at build time (bfc build -set name=value).
//
//	const = type ident "=" expr
type Const struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Type  string `parser:"@(\"dim\" | \"int\" | \"real\" | \"bool\")"`
	Name  *Ident `parser:"@@"`
	Value *Expr  `parser:"\"=\" @@"`
}

// Ident is a name with its position.
type Ident struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Name string `parser:"@Ident"`
}

// Block declares a parameterised block: an ordered list of sub-layers.
//
//	block = "block" ident "(" [ param { "," param } [","] ] ")" "{" { blockstmt } "}"
type Block struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Name   *Ident       `parser:"\"block\" @@"`
	Params []*Param     `parser:"\"(\" ( @@ ( \",\" @@ )* \",\"? )? \")\""`
	Body   []*BlockStmt `parser:"\"{\" @@* \"}\""`

	// LParen, RParen, LBrace and RBrace are the positions of the block's
	// brackets. The parser fills them; they are not part of the grammar.
	LParen lexer.Position `parser:""`
	RParen lexer.Position `parser:""`
	LBrace lexer.Position `parser:""`
	RBrace lexer.Position `parser:""`
}

// Param is a block parameter with an optional default.
//
//	param = ident ":" type [ "=" expr ]
type Param struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Name    *Ident `parser:"@@ \":\""`
	Type    string `parser:"@(\"dim\" | \"int\" | \"real\" | \"bool\" | \"act\")"`
	Default *Expr  `parser:"( \"=\" @@ )?"`
}

// BlockStmt is one statement of a block body.
//
//	blockstmt = const | normdefault | sublayer
type BlockStmt struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Const    *Const       `parser:"@@"`
	Norm     *NormDefault `parser:"| @@"`
	SubLayer *SubLayer    `parser:"| @@"`
}

// NormDefault sets the block's default norm wrapper: kind (rms, layer, none)
// and placement (pre, post).
//
//	normdefault = "norm" ident [ "pre" | "post" ]
type NormDefault struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Kind      *Ident `parser:"\"norm\" @@"`
	Placement string `parser:"@(\"pre\" | \"post\")?"`
}

// SubLayer is a named primitive inside a block, wrapped in a residual with a
// norm. The attributes norm, placement and residual of the call override the
// block defaults.
//
//	sublayer = ident "=" call
type SubLayer struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Name *Ident `parser:"@@ \"=\""`
	Call *Call  `parser:"@@"`
}

// Call is a primitive or block applied to keyword arguments.
//
//	call = ident "(" [ arg { "," arg } [","] ] ")"
type Call struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Func *Ident `parser:"@@"`
	Args []*Arg `parser:"\"(\" ( @@ ( \",\" @@ )* \",\"? )? \")\""`

	// LParen and RParen are the positions of the call's parentheses. The
	// parser fills them; they are not part of the grammar.
	LParen lexer.Position `parser:""`
	RParen lexer.Position `parser:""`
}

// Arg is one keyword argument.
//
//	arg = ident ":" expr
type Arg struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Name  *Ident `parser:"@@ \":\""`
	Value *Expr  `parser:"@@"`
}

// Model declares a whole network.
//
//	model = "model" ident "{" { modelstmt } "}"
type Model struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Name *Ident       `parser:"\"model\" @@"`
	Body []*ModelStmt `parser:"\"{\" @@* \"}\""`

	// LBrace and RBrace are the positions of the model's braces. The parser
	// fills them; they are not part of the grammar.
	LBrace lexer.Position `parser:""`
	RBrace lexer.Position `parser:""`
}

// Search declares a search space for bfc search: a baseline model and the
// choices a candidate block may make.
//
//	search = "search" ident "{" { searchstmt } "}"
type Search struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Name *Ident        `parser:"\"search\" @@"`
	Body []*SearchStmt `parser:"\"{\" @@* \"}\""`

	// LBrace and RBrace are the positions of the braces. The parser fills
	// them; they are not part of the grammar.
	LBrace lexer.Position `parser:""`
	RBrace lexer.Position `parser:""`
}

// SearchStmt is one statement of a search space: the baseline model, a
// space-wide choice (blocks: [1, 2, 3]) or the choices of one primitive
// (ffn(hidden: [128, 256])).
//
//	searchstmt = "baseline" ident | arg | call
type SearchStmt struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Baseline *Ident `parser:"\"baseline\" @@"`
	Choice   *Arg   `parser:"| @@"`
	Kind     *Call  `parser:"| @@"`
}

// ModelStmt is one statement of a model body.
//
//	modelstmt = const
//	          | "repeat" expr ( call | "[" call { "," call } [","] "]" )
//	          | "norm" ident | "head" ident | "loss" ident
//	          | call                      (input(...), embed(...))
type ModelStmt struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Const  *Const  `parser:"@@"`
	Repeat *Repeat `parser:"| @@"`
	Norm   *Ident  `parser:"| \"norm\" @@"`
	Head   *Ident  `parser:"| \"head\" @@"`
	Loss   *Ident  `parser:"| \"loss\" @@"`
	Call   *Call   `parser:"| @@"`
}

// Repeat stacks a block, or a list of blocks in order, Count times.
type Repeat struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Count *Expr `parser:"\"repeat\" @@"`
	// List records whether the blocks were written as a bracketed list.
	List   bool    `parser:"( @\"[\""`
	Blocks []*Call `parser:"@@ ( \",\" @@ )* \",\"? \"]\" | @@ )"`

	// LBrack and RBrack are the positions of the brackets of a list (zero
	// when List is false). The parser fills them; they are not part of the
	// grammar.
	LBrack lexer.Position `parser:""`
	RBrack lexer.Position `parser:""`
}

// Expr is a sum of terms.
//
//	expr = term { ("+" | "-") term }
type Expr struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Left *Term    `parser:"@@"`
	Ops  []*AddOp `parser:"@@*"`
}

// AddOp is one "+ term" or "- term".
type AddOp struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Op    string `parser:"@(\"+\" | \"-\")"`
	Right *Term  `parser:"@@"`
}

// Term is a product of unary expressions.
//
//	term = unary { ("*" | "/" | "%") unary }
type Term struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Left *Unary   `parser:"@@"`
	Ops  []*MulOp `parser:"@@*"`
}

// MulOp is one "* unary", "/ unary" or "% unary".
type MulOp struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Op    string `parser:"@(\"*\" | \"/\" | \"%\")"`
	Right *Unary `parser:"@@"`
}

// Unary is an optionally negated primary.
//
//	unary = [ "-" ] primary
type Unary struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Neg     bool     `parser:"@\"-\"?"`
	Primary *Primary `parser:"@@"`
}

// Primary is a literal, a name, a call (routing rules) or a parenthesised
// expression.
//
//	primary = real | int | "true" | "false" | call | ident | "(" expr ")" | list
type Primary struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Real  *string `parser:"@Float"`
	Int   *string `parser:"| @Int"`
	Bool  *string `parser:"| @(\"true\" | \"false\")"`
	Call  *Call   `parser:"| @@"`
	Ident *Ident  `parser:"| @@"`
	Paren *Expr   `parser:"| \"(\" @@ \")\""`
	List  *List   `parser:"| @@"`
}

// List is a bracketed list of values: the alternatives of a choice in a
// search space, as in [128, 256, 512].
//
//	list = "[" [ expr { "," expr } [","] ] "]"
type List struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Elems []*Expr `parser:"\"[\" ( @@ ( \",\" @@ )* \",\"? )? \"]\""`

	// LBrack and RBrack are the positions of the brackets. The parser fills
	// them; they are not part of the grammar.
	LBrack lexer.Position `parser:""`
	RBrack lexer.Position `parser:""`
}
