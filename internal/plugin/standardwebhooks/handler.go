package standardwebhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// MaxBody is the largest body that is signed; a larger one is refused
// (Kong reads the body from its buffer: a body that does not fit cannot
// be verified either).
const MaxBody = 8 << 20

// now is the clock (tests move it).
var now = time.Now

// Webhooks is one plugin instance.
type Webhooks struct {
	secret    []byte
	tolerance float64 // seconds
}

// New builds an instance from a validated config.
func New(cfg map[string]any, _ plugin.Deps) (any, error) {
	var c Config
	if err := model.Decode(cfg, &c); err != nil {
		return nil, err
	}
	return &Webhooks{secret: []byte(c.SecretV1), tolerance: float64(c.ToleranceSecond)}, nil
}

// Access refuses, with Kong's 400 "Bad request", a request missing one of
// the three headers, older than tolerance_second, without a body, or
// whose signature is not the expected one.
func (w *Webhooks) Access(c *plugin.Ctx) {
	r := c.Request
	id, ok1 := plugin.GetHeader(r, "webhook-id")
	sig, ok2 := plugin.GetHeader(r, "webhook-signature")
	tsText, ok3 := plugin.GetHeader(r, "webhook-timestamp")
	if !ok1 || !ok2 || !ok3 {
		c.Error(http.StatusBadRequest, "Bad request", nil)
		return
	}
	ts, err := strconv.ParseFloat(tsText, 64)
	if err != nil {
		ts = 0 // Kong's tonumber(ts) or 0: fails the clock check
	}
	if float64(now().UnixNano())/1e9-ts > w.tolerance {
		c.Error(http.StatusBadRequest, "Bad request", nil)
		return
	}
	body, complete := plugin.ReadBody(r, MaxBody)
	if !complete || len(body) == 0 {
		c.Error(http.StatusBadRequest, "Bad request", nil)
		return
	}
	if !hmac.Equal([]byte(sig), []byte(w.sign(id, ts, body))) {
		c.Error(http.StatusBadRequest, "Bad request", nil)
	}
}

// sign is "v1," and the base64 HMAC-SHA256 of "<id>.<ts>.<body>", the
// timestamp written as Lua writes the number it was read as.
func (w *Webhooks) sign(id string, ts float64, body []byte) string {
	m := hmac.New(sha256.New, w.secret)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatFloat(ts, 'g', 14, 64)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

var _ plugin.Accessor = (*Webhooks)(nil)
