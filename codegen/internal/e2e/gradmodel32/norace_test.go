//go:build !race

package gradmodel32

const raceEnabled = false
