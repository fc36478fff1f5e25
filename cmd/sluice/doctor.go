package main

import (
	"flag"
	"io"

	"sluice/internal/memwatch"
)

// cmdDoctor runs `sluice doctor memory [--url URL]`: it reads a running
// node's memory timeline from its status listener and prints the report.
func cmdDoctor(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "memory" {
		say(stderr, "Usage: sluice doctor memory [--url http://127.0.0.1:8100]\n")
		return 2
	}
	fs := flag.NewFlagSet("doctor memory", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8100", "the node's status listener")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if err := memwatch.Doctor(stdout, *url); err != nil {
		say(stderr, "Error: %v\n", err)
		return 1
	}
	return 0
}
