//go:build race

package gradbf16

// raceEnabled: the race detector allocates, so allocation counts mean nothing.
const raceEnabled = true
