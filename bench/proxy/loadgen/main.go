// Command loadgen runs one open-loop fixed-rate load (package
// bench/internal/openloop) and prints its result as one JSON line. The
// harness runs it pinned to the load generator's CPU.
//
//	loadgen -addr 127.0.0.1:9001 -rate 5000 -d 10s -conns 64 \
//	  -routes 100 -path '/r%d/small' -key-header apikey -keys 100 -key 'key-%d'
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"os"
	"time"

	"sluice/bench/internal/openloop"
	"sluice/bench/internal/wrk"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "target host:port")
	rate := flag.Float64("rate", 1000, "requests per second")
	d := flag.Duration("d", 10*time.Second, "sending time")
	conns := flag.Int("conns", 64, "keep-alive connections")
	var m wrk.Mix
	flag.IntVar(&m.Routes, "routes", 1, "number of route paths to cycle through")
	flag.StringVar(&m.PathFormat, "path", "/r%d/small", "path format with one %d")
	flag.StringVar(&m.KeyHeader, "key-header", "", "header carrying the key (none when empty)")
	flag.IntVar(&m.Keys, "keys", 1, "number of keys to cycle through")
	flag.StringVar(&m.KeyFormat, "key", "key-%d", "key format with one %d")
	flag.Parse()
	if err := m.Validate(); err != nil {
		log.Fatal(err)
	}
	reqs := make([][]byte, m.Len())
	for j := range reqs {
		p, k := m.Request(j)
		if m.KeyHeader != "" {
			reqs[j] = openloop.Request(*addr, p, m.KeyHeader, k)
		} else {
			reqs[j] = openloop.Request(*addr, p)
		}
	}
	res, err := openloop.Run(context.Background(), openloop.Config{Addr: *addr, Rate: *rate, Duration: *d, Conns: *conns, Requests: reqs})
	if err != nil {
		log.Fatal(err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		log.Fatal(err)
	}
}
