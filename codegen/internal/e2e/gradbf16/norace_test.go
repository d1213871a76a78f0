//go:build !race

package gradbf16

const raceEnabled = false
