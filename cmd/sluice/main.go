// Command sluice is the API gateway: a drop-in for Kong 3.x. It is the only
// place that wires concrete packages together.
//
//	sluice start [-c kong.conf] [-p prefix]   run the gateway
//	sluice quit [-p prefix] [-t seconds]      graceful stop of a running gateway
//	sluice stop [-p prefix]                   immediate stop
//	sluice config validate FILE               check a kong.yml
//	sluice migrations bootstrap|up|status|reset  manage the PostgreSQL schema
//	sluice doctor memory [--url URL]          memory report of a running node
//	sluice version                            print the version
package main

import (
	"io"
	"os"
)

// version is set at build time: go build -ldflags "-X main.version=1.2.3".
var version = "dev"

// kongCompat is the Kong version sluice behaves as.
const kongCompat = "3.9.1"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Usage: sluice COMMAND [OPTIONS]

An API gateway that runs Kong 3.x configurations (kong.yml, kong.conf, KONG_* settings).

Commands:
  start [-c kong.conf] [-p prefix]        run the gateway (foreground)
  quit [-p prefix] [-t seconds]           stop a running gateway gracefully (SIGQUIT), waiting up to -t (default 10)
  stop [-p prefix]                        stop a running gateway at once
  config validate FILE                    check a declarative config (kong.yml); exit 1 if invalid
  migrations bootstrap|up|status|reset    manage the PostgreSQL schema (database = postgres)
  doctor memory [--url URL]               memory report of a running node (its status listener, default http://127.0.0.1:8100)
  version                                 print the version

Settings are kong.conf keys, from (highest first) flags, SLUICE_<KEY> and KONG_<KEY>
environment variables, the -c file (else /etc/kong/kong.conf, /etc/kong.conf), defaults.
`

// run executes one command and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		say(stderr, "%s", usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "start":
		return cmdStart(rest, stdout, stderr)
	case "quit":
		return cmdQuit(rest, stdout, stderr, true)
	case "stop":
		return cmdQuit(rest, stdout, stderr, false)
	case "config":
		return cmdConfig(rest, stdout, stderr)
	case "migrations":
		return cmdMigrations(rest, stdout, stderr)
	case "doctor":
		return cmdDoctor(rest, stdout, stderr)
	case "version", "--version", "-V":
		say(stdout, "sluice %s (Kong %s compatible)\n", version, kongCompat)
		return 0
	case "help", "-h", "--help":
		say(stdout, "%s", usage)
		return 0
	}
	say(stderr, "Error: unknown command %q\n\n%s", cmd, usage)
	return 2
}
