//go:build !race

package moeinfer

const raceEnabled = false
