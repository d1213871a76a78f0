package check

import (
	"fmt"
	"strconv"
)

// typ is the type a value is wanted as: one of the declared types of
// constants and parameters (dim, int, real, bool, act) or one of the word
// sets of statements and attributes (norm kinds, placements, ...).
type typ string

const (
	tDim       typ = "dim"
	tInt       typ = "int"
	tReal      typ = "real"
	tBool      typ = "bool"
	tAct       typ = "act"
	tNorm      typ = "norm"
	tPlacement typ = "placement"
	tPos       typ = "pos"
	tHead      typ = "head"
	tLoss      typ = "loss"
	tRoute     typ = "route" // a routing rule: expert_choice(...) or top_k(...)
	tGroup     typ = "group" // a routing group: batch, sequence or position
	tDrop      typ = "drop"  // top_k's overflow policy
	tLeak      typ = "leak"  // a routing rule's acceptance of a causal leak
	tFill      typ = "fill"  // expert choice's policy for tokens no expert took
)

// class is how a type computes: integer and real arithmetic, bools, words.
type class uint8

const (
	cInvalid class = iota // a value whose computation failed; never reported again
	cInt
	cReal
	cBool
	cWord
	cRoute // a routing rule, evaluated from a call
)

func (t typ) class() class {
	switch t {
	case tDim, tInt:
		return cInt
	case tReal:
		return cReal
	case tBool:
		return cBool
	case tRoute:
		return cRoute
	}
	return cWord
}

// isWordType reports whether t is a set of words rather than numbers or bools.
func (t typ) isWordType() bool { return t.class() == cWord }

// noun describes the type in messages: "a dim", "an activation".
func (t typ) noun() string {
	switch t {
	case tDim:
		return "a dim"
	case tInt:
		return "an int"
	case tReal:
		return "a real"
	case tBool:
		return "a bool"
	case tAct:
		return "an activation"
	case tNorm:
		return "a norm kind"
	case tPlacement:
		return "a norm placement"
	case tPos:
		return "a position embedding"
	case tHead:
		return "a head kind"
	case tLoss:
		return "a loss"
	case tRoute:
		return "a routing rule"
	case tGroup:
		return "a routing group"
	case tDrop:
		return "a drop policy"
	case tLeak:
		return "a leak policy"
	case tFill:
		return "a fill policy"
	}
	return string(t)
}

// value is the result of evaluating an expression.
//
// A value of class cInvalid stands for a computation that already failed
// and was reported: every operation on it yields cInvalid silently. A value
// that is not known has a class but no number: block parameters while a
// block's definition is checked once on its own (the generic pass).
//
// dep records whether the value depends on a block's arguments or on the
// width of the stream entering the block; errors about such values are
// reported per block instance, the others once per definition.
type value struct {
	cls   class
	known bool
	dep   bool
	typ   typ // declared type of the constant or parameter it came from; "" for literals and arithmetic

	i  int64
	r  float64
	b  bool
	w  string
	rt *routeVal // cRoute: the rule and its attributes
}

var invalid = value{}

func intVal(i int64) value    { return value{cls: cInt, known: true, i: i} }
func realVal(r float64) value { return value{cls: cReal, known: true, r: r} }
func boolVal(b bool) value    { return value{cls: cBool, known: true, b: b} }
func wordVal(w string) value  { return value{cls: cWord, known: true, w: w} }

// unknown is a value of type t whose number is not known.
func unknown(t typ, dep bool) value {
	return value{cls: t.class(), dep: dep, typ: t}
}

func (v value) valid() bool { return v.cls != cInvalid }

// ok reports whether v is a valid, known value.
func (v value) ok() bool { return v.cls != cInvalid && v.known }

func (v value) String() string {
	if !v.known {
		return "?"
	}
	switch v.cls {
	case cInt:
		return strconv.FormatInt(v.i, 10)
	case cReal:
		return strconv.FormatFloat(v.r, 'g', -1, 64)
	case cBool:
		return strconv.FormatBool(v.b)
	case cWord:
		return v.w
	case cRoute:
		return v.rt.rule + "(...)"
	}
	return "invalid"
}

// nounOf describes the type of a value in messages.
func (v value) noun() string {
	if v.typ != "" {
		return v.typ.noun()
	}
	switch v.cls {
	case cInt:
		return "an int"
	case cReal:
		return "a real"
	case cBool:
		return "a bool"
	case cWord:
		return "a word"
	case cRoute:
		return "a routing rule"
	}
	return "invalid"
}

// Limits that keep a model buildable: sizes beyond them are InvalidSize.
const (
	maxSize      = 1 << 24 // largest dim, head count, batch or sequence length
	maxInstances = 1 << 14 // most block instances in one model
)

// parseLiteral parses an override's text as a literal of type t.
func parseLiteral(t typ, text string) (value, string) {
	switch t {
	case tDim:
		i, err := strconv.ParseInt(text, 10, 64)
		if err != nil || i <= 0 || i > maxSize {
			return invalid, fmt.Sprintf("a positive integer up to %d, such as 512", maxSize)
		}
		return intVal(i), ""
	case tInt:
		i, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return invalid, "an integer, such as 8"
		}
		return intVal(i), ""
	case tReal:
		r, err := strconv.ParseFloat(text, 64)
		if err != nil || r != r || r > 1e308 || r < -1e308 {
			return invalid, "a finite number, such as 0.5 or 1e-6"
		}
		return realVal(r), ""
	case tBool:
		switch text {
		case "true":
			return boolVal(true), ""
		case "false":
			return boolVal(false), ""
		}
		return invalid, "true or false"
	}
	return invalid, "a literal"
}
