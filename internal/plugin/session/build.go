package session

import (
	"fmt"
	"log/slog"
	"math"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	var conf Config
	if err := model.Decode(cfg, &conf); err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	s := &Session{ents: deps.Entities, log: deps.Logger, now: time.Now}
	if s.log == nil {
		s.log = slog.Default()
	}
	// Nulls take the session library's defaults.
	s.cookieName = str(conf.CookieName, "session")
	s.rememberName = str(conf.RememberCookieName, "remember")
	s.audience = str(conf.Audience, "default")
	s.attrs = attributes(str(conf.CookieDomain, ""), str(conf.CookiePath, "/"), str(conf.CookieSameSite, "Lax"),
		boolean(conf.CookieSecure, false), boolean(conf.CookieHTTPOnly, true))
	s.session = timeouts{idling: num(conf.IdlingTimeout, 900), rolling: num(conf.RollingTimeout, 3600),
		absolute: num(conf.AbsoluteTimeout, 86400)}
	s.remember = conf.Remember
	s.persistent = timeouts{rolling: num(conf.RememberRollingTimeout, 604800), absolute: num(conf.RememberAbsoluteTimeout, 2592000)}
	s.rememberTTL = int64(math.Floor(s.persistent.rolling))
	if s.rememberTTL <= 0 || s.rememberTTL > maxTTL {
		s.rememberTTL = maxTTL
	}
	s.requestHeaders, s.responseHeaders = conf.RequestHeaders, conf.ResponseHeaders
	s.logoutMethods = conf.LogoutMethods
	s.logoutQueryArg, s.logoutPostArg = str(conf.LogoutQueryArg, ""), str(conf.LogoutPostArg, "")
	s.readBodyForLogout = conf.ReadBodyForLogout

	secret := str(conf.Secret, "")
	switch secret {
	case "":
		secret = defaultSecret // one per process: sessions survive config changes
		s.log.Warn("session: no secret configured: using a random one; sessions will not survive a restart nor be shared between nodes",
			"plugin", deps.PluginID)
	case defaultSecret:
		s.log.Warn("session: secret is the default drawn at start; set config.secret for sessions to survive a restart and be shared between nodes",
			"plugin", deps.PluginID)
	}
	if conf.Storage == "kong" {
		s.log.Warn("session: storage kong is not supported: session data is kept in the cookie, as with storage cookie",
			"plugin", deps.PluginID)
	}
	var err error
	s.sealer, err = newSealer(secret, map[kind]string{kindSession: s.cookieName, kindRemember: s.rememberName})
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return s, nil
}

func str(p *string, def string) string {
	if p == nil || *p == "" {
		return def
	}
	return *p
}

func num(p *float64, def float64) float64 {
	if p == nil {
		return def
	}
	return *p
}

func boolean(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}
