//go:build race

package moeinfer

// raceEnabled: the race detector allocates, so allocation counts mean nothing.
const raceEnabled = true
