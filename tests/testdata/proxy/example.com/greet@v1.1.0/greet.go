// Package greet is a fixture dependency with a dependency of its own (v1.1.0).
package greet

import "example.com/strutil"

// Hello greets name.
func Hello(name string) string { return "hello, " + strutil.Shout(name) }

// Bye says goodbye (new in v1.1.0).
func Bye(name string) string { return "bye " + name }

// Use marks the package as used.
func Use() string { return Hello("greet") + Bye("greet") }
