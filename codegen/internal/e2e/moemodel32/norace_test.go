//go:build !race

package moemodel32

const raceEnabled = false
