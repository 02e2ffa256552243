// Package app is the fixture module whose releases the benchmark smoke test replays.
package app

import "example.com/greet"

// Message is what the app says.
func Message() string { return greet.Hello("bench") }
