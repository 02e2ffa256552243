// Package strutil is a fixture dependency.
package strutil

import "strings"

// Shout upper-cases s.
func Shout(s string) string { return strings.ToUpper(s) + "!" }

// Use marks the package as used.
func Use() string { return Shout("strutil") }
