// Package broken is a fixture dependency that does not compile.
package broken

// Use marks the package as used.
func Use() string { return undefinedName }
