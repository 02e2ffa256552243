// Package greet is a fixture dependency with a dependency of its own.
package greet

import "example.com/strutil"

// Hello greets name.
func Hello(name string) string { return "hello " + strutil.Shout(name) }

// Use marks the package as used.
func Use() string { return Hello("greet") }
