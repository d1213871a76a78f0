//go:build !race

package moecausal

const raceEnabled = false
