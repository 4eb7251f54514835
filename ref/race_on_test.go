//go:build race

package ref

// raceEnabled is true under -race, where building and checking 16 MiB
// records in instrumented code is too slow for the large-write crash test.
const raceEnabled = true
