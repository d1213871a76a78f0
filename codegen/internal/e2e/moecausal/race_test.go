//go:build race

package moecausal

// raceEnabled: the race detector allocates, so allocation counts mean nothing.
const raceEnabled = true
