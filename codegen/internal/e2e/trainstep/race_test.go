//go:build race

package trainstep

// raceEnabled: the race detector allocates, so allocation counts mean nothing.
const raceEnabled = true
