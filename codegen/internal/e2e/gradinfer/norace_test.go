//go:build !race

package gradinfer

const raceEnabled = false
