//go:build race

package gradmodel32

// raceEnabled: the race detector allocates, so allocation counts mean nothing.
const raceEnabled = true
