package botdetection

import (
	"fmt"
	"regexp"
	"strings"

	"sluice/internal/plugin"
)

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
	cfg         uint64 // fingerprint of allow and deny: the cache key prefix
	cache       *verdictCache
}

// New builds an instance from a validated config.
func New(cfg map[string]any, _ plugin.Deps) (any, error) {
	b := &BotDetection{cache: shared}
	var err error
	var allow, deny []string
	if b.allow, allow, err = compileAll(cfg["allow"]); err != nil {
		return nil, err
	}
	if b.deny, deny, err = compileAll(cfg["deny"]); err != nil {
		return nil, err
	}
	b.cfg = fingerprint(allow, deny)
	return b, nil
}

func compileAll(v any) ([]*regexp.Regexp, []string, error) {
	l, _ := v.([]any)
	out := make([]*regexp.Regexp, 0, len(l))
	src := make([]string, 0, len(l))
	for _, e := range l {
		s, _ := e.(string)
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, nil, fmt.Errorf("bot-detection: %w", err)
		}
		out = append(out, re)
		src = append(src, s)
	}
	return out, src, nil
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
	k := cacheKey{cfg: b.cfg, ua: ua}
	if v, ok := b.cache.get(k); ok {
		return v
	}
	v := b.examine(ua)
	b.cache.put(k, v)
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
