package kernels

import "fmt"

// Embed sets y[t, :] = table[tokens[t], :] for rows of width d.
func Embed[F Float](y []F, table []F, tokens []int32, d int) {
	checkLen("Embed", "y", len(y), len(tokens)*d)
	for t, tok := range tokens {
		checkToken("Embed", tok, len(table), d)
		copy(y[t*d:(t+1)*d], table[int(tok)*d:int(tok)*d+d])
	}
}

// EmbedBackward adds dy[t, :] into dtable[tokens[t], :].
func EmbedBackward[F Float](dtable []F, dy []F, tokens []int32, d int) {
	checkLen("EmbedBackward", "dy", len(dy), len(tokens)*d)
	for t, tok := range tokens {
		checkToken("EmbedBackward", tok, len(dtable), d)
		dst := dtable[int(tok)*d : int(tok)*d+d]
		src := dy[t*d : t*d+d]
		for i := range dst {
			dst[i] += src[i]
		}
	}
}

func checkToken(kernel string, tok int32, tableLen, d int) {
	if tok < 0 || (int(tok)+1)*d > tableLen {
		panic(fmt.Sprintf("kernels.%s: token %d outside a table of %d rows", kernel, tok, tableLen/max(d, 1)))
	}
}

// AddPosEmbed sets y[b, s, :] = x[b, s, :] + pos[s, :]; y may alias x.
func AddPosEmbed[F Float](y, x, pos []F, batch, seq, d int) {
	n := batch * seq * d
	checkLen("AddPosEmbed", "y", len(y), n)
	checkLen("AddPosEmbed", "x", len(x), n)
	checkLen("AddPosEmbed", "pos", len(pos), seq*d)
	for b := range batch {
		off := b * seq * d
		Add(y[off:off+seq*d], x[off:off+seq*d], pos[:seq*d])
	}
}

// AddPosEmbedBackward adds Σ_b dy[b, s, :] into dpos[s, :].
func AddPosEmbedBackward[F Float](dpos, dy []F, batch, seq, d int) {
	checkLen("AddPosEmbedBackward", "dy", len(dy), batch*seq*d)
	checkLen("AddPosEmbedBackward", "dpos", len(dpos), seq*d)
	for b := range batch {
		AddTo(dpos[:seq*d], dy[b*seq*d:(b+1)*seq*d])
	}
}
