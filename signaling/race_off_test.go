//go:build !race

package signaling

// raceEnabled: the race detector multiplies memory use several times, so
// RSS bounds are reported, not asserted, under -race.
const raceEnabled = false
