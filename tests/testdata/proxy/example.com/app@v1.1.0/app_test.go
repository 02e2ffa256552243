package app

import (
	"testing"

	"example.com/testonly"
)

func TestMessage(t *testing.T) {
	if err := testonly.Equal(Message() != "", true); err != nil {
		t.Fatal(err)
	}
}
