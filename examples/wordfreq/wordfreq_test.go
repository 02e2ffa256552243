package wordfreq

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/language"
)

func TestNormalize(t *testing.T) {
	cases := map[string]string{
		"Hello,":   "hello",
		"ÉCOLE":    "école",
		"Straße":   "strasse",
		"--":       "",
		"(go1.26)": "go1.26",
	}
	for in, want := range cases {
		assert.Equal(t, want, Normalize(in), "Normalize(%q)", in)
	}
}

func TestTitle(t *testing.T) {
	assert.Equal(t, "Hello World", Title("hello world", language.English))
}

func TestCountAll(t *testing.T) {
	r, err := CountAll(context.Background(), 2,
		strings.NewReader("the cache the build"),
		strings.NewReader("The CACHE, again."),
	)
	require.NoError(t, err)
	assert.Equal(t, 7, r.Words)
	require.GreaterOrEqual(t, len(r.Counts), 2)
	assert.Equal(t, Count{Word: "the", Count: 3}, r.Counts[0])
	assert.Equal(t, Count{Word: "cache", Count: 2}, r.Counts[1])
}
