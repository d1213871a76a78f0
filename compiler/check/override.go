package check

import (
	"strings"

	"github.com/bfcdev/bfc/lang/ast"
	"github.com/bfcdev/bfc/lang/parser"
	"github.com/bfcdev/bfc/lang/source"
)

// applyOverrides resolves Config.Overrides to the constants they replace
// and parses their values. A plain name replaces the file-level constant
// and every root model's constant of that name; "Model.name" replaces one
// model's constant and wins over a plain name.
func (c *checker) applyOverrides() {
	var plain, qualified []string
	for _, k := range sortedKeys(c.cfg.Overrides) {
		if strings.Contains(k, ".") {
			qualified = append(qualified, k)
		} else {
			plain = append(plain, k)
		}
	}
	for _, k := range plain {
		text := strings.TrimSpace(c.cfg.Overrides[k])
		var targets []*ast.Const
		if obj := c.global.objs[k]; obj != nil {
			if obj.kind != constObj {
				c.errorf(source.Pos{}, InvalidOverride, "override %s=%s: %s is a %s, not a constant", k, text, k, obj.kind)
				continue
			}
			targets = append(targets, obj.decl)
		}
		for _, md := range c.rootModels() {
			if kc := modelConst(md, k); kc != nil {
				targets = append(targets, kc)
			}
		}
		if len(targets) == 0 {
			c.errorf(source.Pos{}, InvalidOverride, "override %s=%s: no file-level or model constant named %s%s",
				k, text, k, didYouMean(k, c.constNames()))
			continue
		}
		c.setOverride(k, text, targets)
	}
	for _, k := range qualified {
		text := strings.TrimSpace(c.cfg.Overrides[k])
		mname, name, _ := strings.Cut(k, ".")
		var md *ast.Model
		for _, m := range c.rootModels() {
			if m.Name.Name == mname {
				md = m
				break
			}
		}
		if md == nil {
			var names []string
			for _, m := range c.rootModels() {
				names = append(names, m.Name.Name)
			}
			c.errorf(source.Pos{}, InvalidOverride, "override %s=%s: no model named %s%s", k, text, mname, didYouMean(mname, names))
			continue
		}
		kc := modelConst(md, name)
		if kc == nil {
			var names []string
			for _, st := range md.Body {
				if st.Const != nil {
					names = append(names, st.Const.Name.Name)
				}
			}
			c.errorf(source.Pos{}, InvalidOverride, "override %s=%s: model %s has no constant %s%s", k, text, mname, name, didYouMean(name, names))
			continue
		}
		c.setOverride(k, text, []*ast.Const{kc})
	}
}

// setOverride parses text for each target constant. A value that does not
// fit a target's type is reported once, at the first such constant.
func (c *checker) setOverride(key, text string, targets []*ast.Const) {
	for _, kc := range targets {
		t := typ(kc.Type)
		v, want := parseLiteral(t, text)
		if !v.valid() {
			c.errorf(parser.Pos(kc.Name.Pos), InvalidOverride, "override %s=%s: %s is %s; give %s", key, text, kc.Name.Name, t.noun(), want)
			return
		}
		v.typ = t
		c.overrides[kc] = v
	}
}

// rootModels lists the models of the root files.
func (c *checker) rootModels() []*ast.Model {
	var out []*ast.Model
	for _, f := range c.files {
		if !f.root || f.ast == nil {
			continue
		}
		for _, d := range f.ast.Decls {
			if d.Model != nil {
				out = append(out, d.Model)
			}
		}
	}
	return out
}

// modelConst returns md's constant called name, or nil.
func modelConst(md *ast.Model, name string) *ast.Const {
	for _, st := range md.Body {
		if st.Const != nil && st.Const.Name.Name == name {
			return st.Const
		}
	}
	return nil
}

// constNames lists every file-level and root-model constant, for
// suggestions.
func (c *checker) constNames() []string {
	names := c.global.namesOf(constObj)
	for _, md := range c.rootModels() {
		for _, st := range md.Body {
			if st.Const != nil {
				names = append(names, st.Const.Name.Name)
			}
		}
	}
	return names
}
