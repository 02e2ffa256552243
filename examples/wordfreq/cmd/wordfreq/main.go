// Command wordfreq prints the most frequent words of the files it is given.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/go-ci-cache/examples/wordfreq"
)

func main() {
	top := flag.Int("top", 10, "how many words to print")
	flag.Parse()
	var readers []io.Reader
	for _, name := range flag.Args() {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "wordfreq:", err)
			os.Exit(1)
		}
		defer f.Close()
		readers = append(readers, f)
	}
	if len(readers) == 0 {
		readers = append(readers, os.Stdin)
	}
	report, err := wordfreq.CountAll(context.Background(), 4, readers...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wordfreq:", err)
		os.Exit(1)
	}
	for i, c := range report.Counts {
		if i == *top {
			break
		}
		fmt.Printf("%6d %s\n", c.Count, c.Word)
	}
}
