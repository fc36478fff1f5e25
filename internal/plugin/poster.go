package plugin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// PosterOptions configure a Poster.
type PosterOptions struct {
	Endpoint    string
	ContentType string            // unless Headers set one
	Headers     map[string]string // sent with every POST
	// ConnectTimeout bounds the dial, Timeout the whole POST.
	ConnectTimeout, Timeout time.Duration
	// Entries and Bytes bound the queue of bodies waiting (Outbox).
	Entries int
	Bytes   int64
	// Accept reports whether the endpoint took a body by its status; nil
	// accepts any 2xx.
	Accept func(status int) bool
	// OnError, when set, sees every failed POST (a log line); OnDrop is
	// called for every body dropped, queue full or POST failed (a metric).
	OnError func(error)
	OnDrop  func()
}

// Poster sends bodies (a request's spans, a batch of entries) to an HTTP
// endpoint with POST, one at a time, through a bounded Outbox: what a
// tracing plugin's exporter is.
type Poster struct {
	o      PosterOptions
	tr     *http.Transport
	client *http.Client
	box    *Outbox
}

// NewPoster starts a Poster; Stop it when its plugin instance is dropped.
// A timeout of 0 is nginx's default, 60 s, as in Kong's HTTP clients.
func NewPoster(o PosterOptions) *Poster {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultPostTimeout
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultPostTimeout
	}
	d := net.Dialer{Timeout: o.ConnectTimeout}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute}
	p := &Poster{o: o, tr: tr, client: &http.Client{Timeout: o.Timeout, Transport: tr,
		// a redirect is an answer, not a new place to post to (Kong's
		// HTTP client does not follow them)
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	p.box = NewOutbox(OutboxOptions{Entries: max(o.Entries, 1), Bytes: o.Bytes, Deliver: p.post, OnDrop: o.OnDrop,
		Finish: tr.CloseIdleConnections})
	return p
}

// DefaultPostTimeout is a Poster's timeout when its options give none.
const DefaultPostTimeout = 60 * time.Second

// Put queues a body; it reports whether the queue took it.
func (p *Poster) Put(body []byte) bool { return p.box.Put(body) }

// Stop ends the queue once what it holds is sent.
func (p *Poster) Stop() { p.box.Stop() }

func (p *Poster) post(body []byte) error {
	err := p.send(body)
	if err != nil && p.o.OnError != nil {
		p.o.OnError(err)
	}
	return err
}

func (p *Poster) send(body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.client.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.o.Endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range p.o.Headers {
		req.Header.Set(k, v)
	}
	if req.Header.Get("Content-Type") == "" && p.o.ContentType != "" {
		req.Header.Set("Content-Type", p.o.ContentType)
	}
	res, err := p.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	_ = res.Body.Close()
	ok := res.StatusCode >= 200 && res.StatusCode <= 299
	if p.o.Accept != nil {
		ok = p.o.Accept(res.StatusCode)
	}
	if !ok {
		return &StatusError{Status: res.StatusCode}
	}
	return nil
}

// StatusError is an endpoint's refusal of a POST.
type StatusError struct{ Status int }

func (e *StatusError) Error() string {
	return fmt.Sprintf("responded unexpectedly: %d %s", e.Status, http.StatusText(e.Status))
}
