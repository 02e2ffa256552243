// Package app is the fixture module whose releases the benchmark smoke test replays (v1.1.0).
package app

import "example.com/greet"

// Message is what the app says.
func Message() string { return greet.Hello("bench") + greet.Bye("bench") }
