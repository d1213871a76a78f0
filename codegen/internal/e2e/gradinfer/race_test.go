//go:build race

package gradinfer

// raceEnabled: the race detector allocates, so allocation counts mean nothing.
const raceEnabled = true
