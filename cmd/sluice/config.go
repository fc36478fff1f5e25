package main

import (
	"errors"
	"flag"
	"io"
	"os"

	"sluice/internal/declarative"
	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/snapshot"
	"sluice/internal/upstream"
)

func cmdConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "validate" && args[0] != "parse") {
		say(stderr, "Usage: sluice config validate FILE\n")
		return 2
	}
	fs := flag.NewFlagSet("config "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		say(stderr, "Usage: sluice config validate FILE\n")
		return 2
	}
	path := fs.Arg(0)
	data, err := os.ReadFile(path)
	if err != nil {
		say(stderr, "Error: %v\n", err)
		return 1
	}
	cfg, err := validateConfig(data)
	if err != nil {
		say(stderr, "Error: %s: %s\n", path, describe(err))
		return 1
	}
	say(stdout, "OK: %s is valid (%d services, %d routes, %d consumers, %d plugins, %d upstreams, %d certificates)\n",
		path, len(cfg.Services), len(cfg.Routes), len(cfg.Consumers), len(cfg.Plugins), len(cfg.Upstreams), len(cfg.Certificates))
	return 0
}

// validateConfig parses a declarative config and compiles it the way a
// start or reload would (plugin configs through their schemas with Kong's
// default plugins = bundled, router, certificates), so that everything
// that would be refused at load time is refused here.
func validateConfig(data []byte) (*model.Config, error) {
	cfg, err := declarative.Parse(data, &declarative.Options{Plugins: plugin.SchemaLookup(nil)})
	if err != nil {
		return nil, err
	}
	pool := upstream.NewPool()
	defer pool.Close()
	if _, err := snapshot.Build(nil, cfg, "", &snapshot.Env{Pool: pool, Plugins: pluginDefinitions(nil)}); err != nil {
		return nil, err
	}
	return cfg, nil
}

// describe renders a config error with one problem per line.
func describe(err error) string {
	var de *declarative.Error
	if errors.As(err, &de) {
		s := "invalid declarative configuration:"
		for _, p := range de.Problems() {
			s += "\n  - " + p
		}
		return s
	}
	return err.Error()
}
