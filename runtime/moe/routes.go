package moe

import "slices"

// Choice is a token's choice of rank Rank (0: its first) in a top-k layer;
// Token is the flat index b·seq+s of the last Forward's batch.
type Choice struct {
	Token, Rank int32
}

// Routes is the routing decisions of one layer in the last Forward.
type Routes struct {
	// Tokens lists, per expert, the tokens it processed (flat indices
	// b·seq+s), ascending.
	Tokens [][]int32
	// Dropped lists the top-k choices dropped for capacity, by token then
	// rank; empty under expert choice, which drops nothing.
	Dropped []Choice
}

// LayerRoutes names the Routes of one layer.
type LayerRoutes struct {
	Name string
	Routes
}

// Routes returns the routing decisions of the last successful Forward
// (zero Routes before one, or after a Forward that failed): which tokens
// each expert took and which top-k choices were dropped. They are fresh
// copies, consistent with Stats (Load[e] is len(Tokens[e]), Dropped is
// len(Dropped)); Routes allocates and is meant for tests and inspection,
// not the hot path.
func (ws *Workspace[F]) Routes() Routes {
	if !ws.valid {
		return Routes{}
	}
	r := Routes{Tokens: make([][]int32, ws.e)}
	for ex := range ws.e {
		toks := slices.Clone(ws.slotTok[ws.expOff[ex]:ws.expOff[ex+1]])
		slices.Sort(toks)
		r.Tokens[ex] = toks
	}
	if ws.cfg.Rule == TopK {
		k := ws.cfg.K
		for tok := range ws.t {
			for rank := range k {
				if ws.chSlot[tok*k+rank] < 0 {
					r.Dropped = append(r.Dropped, Choice{Token: int32(tok), Rank: int32(rank)})
				}
			}
		}
	}
	return r
}
