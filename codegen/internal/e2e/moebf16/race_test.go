//go:build race

package moebf16

// raceEnabled: the race detector allocates, so allocation counts mean nothing.
const raceEnabled = true
