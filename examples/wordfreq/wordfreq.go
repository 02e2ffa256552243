// Package wordfreq counts word frequencies across many documents concurrently.
//
// It is the example module of go-ci-cache: small, but with real third-party
// dependencies (golang.org/x/sync, golang.org/x/text, github.com/google/uuid)
// and a test-only dependency (github.com/stretchr/testify), so that a cache
// preview shows every kind of dependency package.
package wordfreq

import (
	"bufio"
	"context"
	"io"
	"sort"
	"strings"
	"sync"
	"unicode"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"
	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"
)

// Count is one word and how often it occurred.
type Count struct {
	Word  string
	Count int
}

// Report is the result of one counting run.
type Report struct {
	ID     uuid.UUID
	Words  int
	Counts []Count
}

var folder = cases.Fold()

// Normalize returns the canonical form of a word: NFC-normalized and case-folded,
// with leading and trailing punctuation removed.
func Normalize(word string) string {
	word = strings.TrimFunc(word, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
	return folder.String(norm.NFC.String(word))
}

// Title returns a word in title case for the given language tag.
func Title(word string, tag language.Tag) string {
	return cases.Title(tag).String(word)
}

// CountAll reads every document concurrently (at most limit at a time) and
// returns the words sorted by descending count, then alphabetically.
func CountAll(ctx context.Context, limit int, docs ...io.Reader) (Report, error) {
	var (
		mu     sync.Mutex
		totals = map[string]int{}
		words  int
	)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, doc := range docs {
		g.Go(func() error {
			local := map[string]int{}
			n := 0
			sc := bufio.NewScanner(doc)
			sc.Split(bufio.ScanWords)
			for sc.Scan() {
				if err := ctx.Err(); err != nil {
					return err
				}
				if w := Normalize(sc.Text()); w != "" {
					local[w]++
					n++
				}
			}
			if err := sc.Err(); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for w, c := range local {
				totals[w] += c
			}
			words += n
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Report{}, err
	}
	counts := make([]Count, 0, len(totals))
	for w, c := range totals {
		counts = append(counts, Count{Word: w, Count: c})
	}
	sort.Slice(counts, func(i, j int) bool {
		if counts[i].Count != counts[j].Count {
			return counts[i].Count > counts[j].Count
		}
		return counts[i].Word < counts[j].Word
	})
	return Report{ID: uuid.New(), Words: words, Counts: counts}, nil
}
