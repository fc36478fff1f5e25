package session

import (
	"math"
	"strconv"
)

// Limits of the session library's offsets (lua-resty-session 4: 4-byte
// rolling offset, 3-byte idling offset) and of cookie lifetimes (400 days,
// the most browsers keep).
const (
	maxRollingOffset = math.MaxUint32
	maxIdlingOffset  = 1<<24 - 1
	maxTTL           = 34560000
	// touchThreshold is how long a session is idle before its idling
	// offset is renewed (the library's default touch_threshold).
	touchThreshold = 60
)

// timeouts are the limits a cookie of one kind is checked against; 0
// disables one.
type timeouts struct {
	idling, rolling, absolute float64
}

// valid reports whether d, read at now, is within its timeouts (the
// library's open: absolute from creation, rolling from the last save,
// idling from the last touch; persistent cookies are never touched).
func (t timeouts) valid(d *data, k kind, now int64) bool {
	absolute := now - d.created
	if absolute > maxRollingOffset {
		return false
	}
	if t.absolute != 0 && float64(absolute) > t.absolute {
		return false
	}
	rolling := absolute - int64(d.rolling)
	if t.rolling != 0 && float64(rolling) > t.rolling {
		return false
	}
	if k == kindRemember {
		return d.idling == 0
	}
	return t.idling == 0 || float64(rolling-int64(d.idling)) <= t.idling
}

// renewal is what the library's refresh does to an open session.
type renewal int

const (
	keep  renewal = iota
	save          // 3/4 of the rolling timeout spent: a new session id
	touch         // idle for over a minute: a new idling offset
)

// refresh decides the renewal of d, opened at now.
func (t timeouts) refresh(d *data, now int64) renewal {
	rolling := now - d.created - int64(d.rolling)
	if t.rolling > 0 && float64(rolling) > math.Ceil(t.rolling*0.75) {
		return save
	}
	if t.idling > 0 && rolling-int64(d.idling) > touchThreshold {
		return touch
	}
	return keep
}

// resave prepares d to be saved at now: the creation time stays, the
// rolling offset moves to now, the idling offset restarts.
func resave(d *data, now int64) {
	d.rolling = offset(now-d.created, maxRollingOffset)
	d.idling = 0
}

// retouch moves the idling offset of d to now.
func retouch(d *data, now int64) {
	d.idling = offset(now-d.created-int64(d.rolling), maxIdlingOffset)
}

func offset(v, limit int64) uint32 {
	return uint32(min(max(v, 0), limit))
}

// property returns a session property (Session-* headers): "id",
// "audience", "subject", or what is left of the timeouts, in seconds; ok
// is false when it has no value (the timeouts it needs are disabled).
func (t timeouts) property(name string, d *data, now int64) (string, bool) {
	switch name {
	case "id":
		return encodeSID(d.sid), true
	case "audience":
		return d.audience, true
	case "subject":
		return d.subject, true
	case "timeout":
		// the closest of the three
		var best float64
		found := false
		for _, n := range [...]string{"idling-timeout", "rolling-timeout", "absolute-timeout"} {
			if v, ok := t.left(n, d, now); ok && (!found || v < best) {
				best, found = v, true
			}
		}
		return formatNumber(best), found
	}
	v, ok := t.left(name, d, now)
	return formatNumber(v), ok
}

// left returns what is left of one timeout at now; ok is false when it is
// disabled.
func (t timeouts) left(name string, d *data, now int64) (float64, bool) {
	sinceSave := now - d.created - int64(d.rolling)
	switch name {
	case "idling-timeout":
		return t.idling - float64(sinceSave-int64(d.idling)), t.idling > 0
	case "rolling-timeout":
		return t.rolling - float64(sinceSave), t.rolling > 0
	case "absolute-timeout":
		return t.absolute - float64(now-d.created), t.absolute > 0
	}
	return 0, false
}

func formatNumber(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// headerName is the header of a property.
var headerName = map[string]string{
	"id":               "Session-Id",
	"audience":         "Session-Audience",
	"subject":          "Session-Subject",
	"timeout":          "Session-Timeout",
	"idling-timeout":   "Session-Idling-Timeout",
	"rolling-timeout":  "Session-Rolling-Timeout",
	"absolute-timeout": "Session-Absolute-Timeout",
}
