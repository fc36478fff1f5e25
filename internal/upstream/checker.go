package upstream

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// checker runs the active health checks of one balancer in one goroutine;
// each round probes up to active.concurrency targets at once.
type checker struct {
	b      *Balancer
	cancel context.CancelFunc
	done   chan struct{}
}

func startChecker(b *Balancer, cfg *config) *checker {
	ctx, cancel := context.WithCancel(b.p.ctx)
	c := &checker{b: b, cancel: cancel, done: make(chan struct{})}
	b.p.wg.Add(1)
	go func() {
		defer b.p.wg.Done()
		defer close(c.done)
		c.run(ctx, cfg.active.healthyEvery, cfg.active.unhealthyEvery)
	}()
	return c
}

func (c *checker) stop() {
	c.cancel()
	<-c.done
}

// firstDelay is the wait before the first probe: the interval (Kong probes
// only after one interval) plus up to a quarter of it at random, so targets
// and replicas do not probe in lockstep.
func firstDelay(every time.Duration) time.Duration {
	return every + time.Duration(rand.Int64N(int64(every)/4+1))
}

func (c *checker) run(ctx context.Context, healthyEvery, unhealthyEvery time.Duration) {
	var hc, uc <-chan time.Time
	var ht, ut *time.Timer
	if healthyEvery > 0 {
		ht = time.NewTimer(firstDelay(healthyEvery))
		defer ht.Stop()
		hc = ht.C
	}
	if unhealthyEvery > 0 {
		ut = time.NewTimer(firstDelay(unhealthyEvery))
		defer ut.Stop()
		uc = ut.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hc:
			c.round(ctx, true)
			ht.Reset(healthyEvery)
		case <-uc:
			c.round(ctx, false)
			ut.Reset(unhealthyEvery)
		}
	}
}

// round probes every node whose state matches healthyMode (healthy and
// mostly healthy, or unhealthy and mostly unhealthy).
func (c *checker) round(ctx context.Context, healthyMode bool) {
	v := c.b.v.Load()
	if v == nil || ctx.Err() != nil {
		return
	}
	var todo []*node
	for i := range v.nodes {
		n := &v.nodes[i]
		if n.a.healthy() == healthyMode {
			todo = append(todo, n)
		}
	}
	if len(todo) == 0 {
		return
	}
	cfg := v.cfg
	sem := make(chan struct{}, cfg.active.concurrency)
	var wg sync.WaitGroup
	for _, n := range todo {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			probe(ctx, cfg, n)
		}()
	}
	wg.Wait()
}

// probe runs one active check against n and reports it, as
// lua-resty-healthcheck does: connect (timeout or TCP failure), TLS
// handshake for https (a failure counts as a TCP failure), then
// "GET <http_path> HTTP/1.0" and the status line. tcp and grpc checks stop
// after the connect (grpcs after the handshake) and count as a success.
func probe(ctx context.Context, cfg *config, n *node) {
	ac := &cfg.active
	if ctx.Err() != nil {
		return
	}
	a := n.a
	d := net.Dialer{Timeout: ac.timeout}
	conn, err := d.DialContext(ctx, "tcp", n.peer.Addr)
	if ctx.Err() != nil {
		if conn != nil {
			conn.Close()
		}
		return // shutting down: not the target's fault
	}
	if err != nil {
		if isTimeout(err) {
			a.report(false, ctrTimeout, ac.timeouts)
		} else {
			a.report(false, ctrTCP, ac.tcpFailures)
		}
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(ac.timeout))
	switch ac.typ {
	case "tcp", "grpc":
		a.report(true, ctrSuccess, ac.successes)
		return
	case "https", "grpcs":
		sni := ac.sni
		if sni == "" && net.ParseIP(strings.Trim(n.host, "[]")) == nil {
			sni = n.host
		}
		tc := tls.Client(conn, &tls.Config{
			ServerName:         sni,
			InsecureSkipVerify: !ac.verify, //nolint:gosec // https_verify_certificate=false is the user's choice
		})
		if err := tc.HandshakeContext(ctx); err != nil {
			a.report(false, ctrTCP, ac.tcpFailures)
			return
		}
		if ac.typ == "grpcs" {
			a.report(true, ctrSuccess, ac.successes)
			return
		}
		conn = tc
	}
	host := cfg.hostHeader
	if host == "" {
		host = n.host
	}
	var sb strings.Builder
	sb.WriteString("GET ")
	sb.WriteString(ac.httpPath)
	sb.WriteString(" HTTP/1.0\r\n")
	for _, h := range ac.headers {
		sb.WriteString(h)
		sb.WriteString("\r\n")
	}
	sb.WriteString("Host: ")
	sb.WriteString(host)
	sb.WriteString("\r\n\r\n")
	if _, err := conn.Write([]byte(sb.String())); err != nil {
		reportIOError(a, ac, err)
		return
	}
	line, err := bufio.NewReaderSize(conn, 512).ReadString('\n')
	if err != nil && line == "" {
		reportIOError(a, ac, err)
		return
	}
	status := parseStatusLine(line)
	switch {
	case ac.healthyStatuses.has(status):
		a.report(true, ctrSuccess, ac.successes)
	case status == 0 || ac.unhealthyStatus.has(status):
		a.report(false, ctrHTTP, ac.httpFailures)
	}
}

func reportIOError(a *address, ac *activeCfg, err error) {
	if isTimeout(err) {
		a.report(false, ctrTimeout, ac.timeouts)
	} else {
		a.report(false, ctrTCP, ac.tcpFailures)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// parseStatusLine returns the status of "HTTP/x.y NNN ...", or 0.
func parseStatusLine(line string) int {
	if !strings.HasPrefix(line, "HTTP/") {
		return 0
	}
	rest := line[5:]
	sp := strings.IndexAny(rest, " \t")
	if sp < 0 {
		return 0
	}
	rest = strings.TrimLeft(rest[sp:], " \t")
	if len(rest) < 3 {
		return 0
	}
	code, err := strconv.Atoi(rest[:3])
	if err != nil || code < 100 {
		return 0
	}
	return code
}
