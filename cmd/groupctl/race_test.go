//go:build race

package main

// raceEnabled: the tests run with -race, so TestMain builds the binary with
// -race too, and a data race in groupctl fails the test that ran it.
const raceEnabled = true
