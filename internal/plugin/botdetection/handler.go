package botdetection

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"sluice/internal/plugin"
)

// CacheSize bounds the per-instance cache of User-Agent verdicts (Kong
// keeps an LRU of 10^4 entries per config). When full it is emptied.
const CacheSize = 10000

// verdicts of examine.
const (
	matchNone uint8 = iota
	matchAllow
	matchDeny
	matchBot
)

// BotDetection is one configured instance.
type BotDetection struct {
	allow, deny []*regexp.Regexp

	mu    sync.RWMutex
	cache map[string]uint8
}

// New builds an instance from a validated config.
func New(cfg map[string]any, _ plugin.Deps) (any, error) {
	b := &BotDetection{cache: make(map[string]uint8)}
	var err error
	if b.allow, err = compileAll(cfg["allow"]); err != nil {
		return nil, err
	}
	if b.deny, err = compileAll(cfg["deny"]); err != nil {
		return nil, err
	}
	return b, nil
}

func compileAll(v any) ([]*regexp.Regexp, error) {
	l, _ := v.([]any)
	out := make([]*regexp.Regexp, 0, len(l))
	for _, e := range l {
		s, _ := e.(string)
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("bot-detection: %w", err)
		}
		out = append(out, re)
	}
	return out, nil
}

// Access checks the User-Agent.
func (b *BotDetection) Access(c *plugin.Ctx) {
	ua := c.Request.Header.Values("User-Agent")
	switch len(ua) {
	case 0:
		return
	case 1:
	default:
		c.Error(400, "Only one User-Agent header allowed", nil)
		return
	}
	if b.verdict(ua[0]) >= matchDeny {
		c.Error(403, "Forbidden", nil)
	}
}

func (b *BotDetection) verdict(ua string) uint8 {
	b.mu.RLock()
	v, ok := b.cache[ua]
	b.mu.RUnlock()
	if ok {
		return v
	}
	v = b.examine(ua)
	b.mu.Lock()
	if len(b.cache) >= CacheSize {
		clear(b.cache)
	}
	b.cache[ua] = v
	b.mu.Unlock()
	return v
}

func (b *BotDetection) examine(ua string) uint8 {
	ua = strings.TrimSpace(ua)
	for _, re := range b.allow {
		if re.MatchString(ua) {
			return matchAllow
		}
	}
	for _, re := range b.deny {
		if re.MatchString(ua) {
			return matchDeny
		}
	}
	if fastBots.match(ua) {
		return matchBot
	}
	return matchNone
}

var _ plugin.Accessor = (*BotDetection)(nil)
