package oauth2

import (
	"crypto/rand"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sluice/internal/metrics"
	"sluice/internal/plugin"
)

// Bounds of the token and code tables shared by every oauth2 instance.
// Each is a plugin.GenCache: when a generation fills, the older one is
// dropped whole (tokens in use are copied forward), so a table never holds
// more than its bytes; a dropped token makes its client ask for a new one.
const (
	TokenEntries = 200000
	TokenBytes   = 64 << 20
	CodeEntries  = 20000
	CodeBytes    = 8 << 20
	// CodeTTL is how long an authorization code stays valid (Kong's 300 s
	// row TTL).
	CodeTTL = 300 * time.Second
	// entryOverhead is what a table entry costs besides its strings (the
	// struct, pointers, the maps' bookkeeping).
	entryOverhead = 160
)

// Token is an issued access token (Kong's oauth2_tokens row).
type Token struct {
	ID         string  `json:"id"`
	Access     string  `json:"access_token"`
	Refresh    string  `json:"refresh_token,omitempty"`
	Credential string  `json:"credential"` // oauth2 credential id
	ClientID   string  `json:"client_id"`
	Service    string  `json:"service,omitempty"` // "" for global_credentials
	UserID     *string `json:"authenticated_userid,omitempty"`
	Scope      *string `json:"scope,omitempty"`
	ExpiresIn  int64   `json:"expires_in"` // seconds; 0 never expires
	CreatedAt  float64 `json:"created_at"` // Unix seconds
	DeleteAt   int64   `json:"delete_at,omitempty"`
}

// Code is an authorization code (Kong's oauth2_authorization_codes row).
type Code struct {
	Code            string  `json:"code"`
	Credential      string  `json:"credential"`
	Service         string  `json:"service,omitempty"`
	Plugin          string  `json:"plugin,omitempty"`
	UserID          *string `json:"authenticated_userid,omitempty"`
	Scope           *string `json:"scope,omitempty"`
	Challenge       string  `json:"challenge,omitempty"`
	ChallengeMethod string  `json:"challenge_method,omitempty"`
	DeleteAt        int64   `json:"delete_at"`
}

func strLen(p *string) int {
	if p == nil {
		return 0
	}
	return len(*p)
}

func tokenSize(_ string, t *Token) int {
	return len(t.ID) + len(t.Access) + len(t.Refresh) + len(t.Credential) + len(t.ClientID) + len(t.Service) +
		strLen(t.UserID) + strLen(t.Scope) + entryOverhead
}

func codeSize(_ string, c *Code) int {
	return len(c.Code) + len(c.Credential) + len(c.Service) + len(c.Plugin) + strLen(c.UserID) +
		strLen(c.Scope) + len(c.Challenge) + entryOverhead
}

var (
	// (named *_cache_bytes: the memory timeline shows it, see cmd/sluice)
	metricTokens = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_oauth2_tokens_cache_bytes",
		Help: "Bytes held by the oauth2 plugin's tables of access tokens, refresh tokens and authorization codes (cap: sluice_oauth2_tokens_cache_capacity_bytes).",
	}, "table")
	metricEntries = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_oauth2_tokens_cache_entries",
		Help: "Access tokens, refresh tokens and authorization codes the oauth2 plugin holds.",
	}, "table")
	metricCapacity = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_oauth2_tokens_cache_capacity_bytes",
		Help: "Byte cap of the oauth2 plugin's token and code tables together.",
	})
)

func init() { metricCapacity.With().Set(TokenBytes + CodeBytes) }

// table holds the tokens (by access token, and access token by refresh
// token) and codes of this node.
type table struct {
	tokens    *plugin.GenCache[string, *Token]
	byRefresh *plugin.GenCache[string, string]
	codes     *plugin.GenCache[string, *Code]
}

func newTable(gauges bool) *table {
	gauge := func(name string) func(n, b int) {
		if !gauges {
			return nil
		}
		return func(n, b int) {
			metricEntries.With(name).Set(float64(n))
			metricTokens.With(name).Set(float64(b))
		}
	}
	refSize := func(k, v string) int { return len(k) + len(v) + entryOverhead/2 }
	return &table{
		tokens:    plugin.NewGenCache(TokenEntries, TokenBytes*3/4, tokenSize, gauge("tokens")),
		byRefresh: plugin.NewGenCache(TokenEntries, TokenBytes/4, refSize, gauge("refresh")),
		codes:     plugin.NewGenCache(CodeEntries, CodeBytes, codeSize, gauge("codes")),
	}
}

// shared is the node's table; now is its clock (tests move it).
var (
	shared = newTable(true)
	now    = time.Now
)

func (t *table) putToken(tok *Token) {
	t.tokens.Put(tok.Access, tok)
	if tok.Refresh != "" {
		t.byRefresh.Put(tok.Refresh, tok.Access)
	}
}

func (t *table) deleteToken(tok *Token) {
	t.tokens.Delete(tok.Access)
	if tok.Refresh != "" {
		t.byRefresh.Delete(tok.Refresh)
	}
}

// token finds a live token by its access token.
// access may be a slice of a request: a lookup can copy the entry forward
// under its key, so the key is cloned first.
func (t *table) token(access string) *Token {
	tok, ok := t.tokens.Get(strings.Clone(access))
	if !ok {
		return nil
	}
	if tok.DeleteAt != 0 && now().Unix() >= tok.DeleteAt {
		t.deleteToken(tok)
		return nil
	}
	return tok
}

// refreshed finds a live token by its refresh token.
func (t *table) refreshed(refresh string) *Token {
	access, ok := t.byRefresh.Get(strings.Clone(refresh))
	if !ok {
		return nil
	}
	tok := t.token(access)
	if tok == nil || tok.Refresh != refresh {
		return nil
	}
	return tok
}

func (t *table) code(code string) *Code {
	c, ok := t.codes.Get(strings.Clone(code))
	if !ok {
		return nil
	}
	if now().Unix() >= c.DeleteAt {
		t.codes.Delete(code)
		return nil
	}
	return c
}

// Cluster events: what one node writes, the others apply.
const clusterKind = "oauth2"

type event struct {
	Op    string `json:"op"` // token, untoken, code, uncode
	Token *Token `json:"token,omitempty"`
	Code  *Code  `json:"code,omitempty"`
}

// outbox queues events for the other nodes, so that a request does not
// wait for the database that carries them. (Not a plugin.Outbox: those
// belong to plugin instances and are stopped and drained at shutdown,
// which plugin.WaitOutboxes waits for; this queue lives as long as the
// process and is not drained.) It holds at most outboxEntries
// events and outboxBytes bytes; beyond that (the database stalls) events
// are dropped and counted, and their tokens work on this node only.
var (
	outbox      = make(chan []byte, outboxEntries)
	outboxQueue atomic.Int64 // bytes queued
	startSender sync.Once
)

const (
	outboxEntries = 4096
	outboxBytes   = 4 << 20
)

var (
	metricDropped = metrics.Default().NewCounterVec(metrics.Opts{
		Name: "sluice_oauth2_cluster_events_dropped_total",
		Help: "oauth2 token and code events not sent to the other nodes because their queue was full.",
	})
	// (named *_queue_bytes: the memory timeline shows it)
	metricQueue = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_oauth2_cluster_queue_bytes",
		Help: "Bytes of oauth2 events waiting to be sent to the other nodes (cap: 4 MiB).",
	})
)

func broadcast(e event) {
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	startSender.Do(func() {
		go func() {
			for b := range outbox {
				plugin.Broadcast(clusterKind, b)
				metricQueue.With().Set(float64(outboxQueue.Add(-int64(len(b)))))
			}
		}()
	})
	if outboxQueue.Add(int64(len(b))) > outboxBytes {
		outboxQueue.Add(-int64(len(b)))
		metricDropped.With().Inc()
		return
	}
	select {
	case outbox <- b:
		metricQueue.With().Set(float64(outboxQueue.Load()))
	default:
		outboxQueue.Add(-int64(len(b)))
		metricDropped.With().Inc()
	}
}

func applyEvent(data []byte) {
	var e event
	if json.Unmarshal(data, &e) != nil {
		return
	}
	switch {
	case e.Op == "token" && e.Token != nil && e.Token.Access != "":
		shared.putToken(e.Token)
	case e.Op == "untoken" && e.Token != nil:
		shared.deleteToken(e.Token)
	case e.Op == "code" && e.Code != nil && e.Code.Code != "":
		shared.codes.Put(e.Code.Code, e.Code)
	case e.Op == "uncode" && e.Code != nil:
		shared.codes.Delete(e.Code.Code)
	}
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomString is 32 random characters of [A-Za-z0-9], as Kong's tokens,
// codes and generated keys are (bytes of 248 and over are drawn again, so
// that each character is uniform).
func randomString() string {
	out := make([]byte, 0, 32)
	var b [48]byte
	for len(out) < 32 {
		if _, err := rand.Read(b[:]); err != nil {
			panic("oauth2: crypto/rand failed: " + err.Error())
		}
		for _, x := range b {
			if x < 248 && len(out) < 32 {
				out = append(out, alnum[int(x)%len(alnum)])
			}
		}
	}
	return string(out)
}
