//go:build !race

package trainstep

const raceEnabled = false
