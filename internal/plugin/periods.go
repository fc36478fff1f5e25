package plugin

import "time"

// PeriodNames are Kong's rate-limiting periods, shortest first; a period's
// index is its number in CounterWindow.Period.
var PeriodNames = [...]string{"second", "minute", "hour", "day", "month", "year"}

// PeriodSeconds is Kong's EXPIRATION table: how long a period's counter is
// kept, in seconds.
var PeriodSeconds = [...]int64{1, 60, 3600, 86400, 2592000, 31536000}

// PeriodStart is the start of period i's current window at t, in unix
// seconds (UTC calendar: months and years start on their first day).
func PeriodStart(i int, t time.Time) int64 {
	sec := t.Unix()
	switch i {
	case 0:
		return sec
	case 1:
		return sec - sec%60
	case 2:
		return sec - sec%3600
	case 3:
		return sec - sec%86400
	case 4:
		y, m, _ := t.UTC().Date()
		return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Unix()
	}
	return time.Date(t.UTC().Year(), 1, 1, 0, 0, 0, 0, time.UTC).Unix()
}
