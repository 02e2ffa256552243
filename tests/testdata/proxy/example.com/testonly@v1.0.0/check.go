// Package testonly is a fixture dependency used only by tests.
package testonly

import "fmt"

// Equal reports a mismatch as an error.
func Equal[T comparable](got, want T) error {
	if got != want {
		return fmt.Errorf("got %v, want %v", got, want)
	}
	return nil
}

// Use marks the package as used.
func Use() string { return fmt.Sprint(Equal(1, 1)) }
