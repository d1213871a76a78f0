//go:build !race

package moebf16

const raceEnabled = false
