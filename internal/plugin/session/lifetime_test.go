package session

import "testing"

// TestValid: the library's checks, at the second (a session is valid up
// to and including its timeout).
func TestValid(t *testing.T) {
	def := timeouts{idling: 900, rolling: 3600, absolute: 86400}
	d := func(rolling, idling uint32) *data { return &data{created: 1000, rolling: rolling, idling: idling} }
	tests := []struct {
		name string
		t    timeouts
		d    *data
		k    kind
		now  int64
		want bool
	}{
		{"fresh", def, d(0, 0), kindSession, 1000, true},
		{"idle up to the limit", def, d(0, 0), kindSession, 1900, true},
		{"idle too long", def, d(0, 0), kindSession, 1901, false},
		{"touched", def, d(0, 800), kindSession, 2700, true},
		{"rolling exceeded", def, d(0, 3000), kindSession, 4601, false},
		{"saved again", def, d(3600, 0), kindSession, 4601, true},
		{"absolute exceeded", def, d(86000, 0), kindSession, 87401, false},
		{"idling disabled", timeouts{rolling: 3600}, d(0, 0), kindSession, 4000, true},
		{"all disabled", timeouts{}, d(0, 0), kindSession, 1 << 31, true},
		{"lifetime beyond the offsets", timeouts{}, d(0, 0), kindSession, 1000 + maxRollingOffset + 1, false},
		{"persistent", timeouts{rolling: 604800, absolute: 2592000}, d(0, 0), kindRemember, 600000, true},
		{"persistent with idling offset", timeouts{rolling: 604800}, d(0, 5), kindRemember, 1000, false},
		{"persistent expired", timeouts{rolling: 604800}, d(0, 0), kindRemember, 605801, false},
		{"fractional timeout", timeouts{rolling: 1.5}, d(0, 0), kindSession, 1002, false},
	}
	for _, tt := range tests {
		if got := tt.t.valid(tt.d, tt.k, tt.now); got != tt.want {
			t.Errorf("%s: valid = %v; want %v", tt.name, got, tt.want)
		}
	}
}

// TestRefresh: a new session id once 3/4 of the rolling timeout is spent,
// else a touch after a minute of idling.
func TestRefresh(t *testing.T) {
	def := timeouts{idling: 900, rolling: 3600}
	tests := []struct {
		t    timeouts
		now  int64
		want renewal
	}{
		{def, 1000, keep},
		{def, 1060, keep},
		{def, 1061, touch},
		{def, 1000 + 2700, touch},
		{def, 1000 + 2701, save},
		{timeouts{rolling: 3600}, 1500, keep},
		{timeouts{}, 99999, keep},
	}
	for _, tt := range tests {
		d := &data{created: 1000}
		if got := tt.t.refresh(d, tt.now); got != tt.want {
			t.Errorf("%+v at +%d: %v; want %v", tt.t, tt.now-1000, got, tt.want)
		}
	}
	d := &data{created: 1000, rolling: 100, idling: 50}
	retouch(d, 1300)
	if d.rolling != 100 || d.idling != 200 {
		t.Errorf("retouch: %+v", d)
	}
	resave(d, 2000)
	if d.rolling != 1000 || d.idling != 0 {
		t.Errorf("resave: %+v", d)
	}
	resave(d, 10) // a clock gone back
	if d.rolling != 0 {
		t.Errorf("resave before creation: rolling %d", d.rolling)
	}
}

func TestProperty(t *testing.T) {
	tm := timeouts{idling: 900, rolling: 3600, absolute: 86400}
	d := sampleData() // created 1700000000, rolling 120, idling 30
	now := d.created + 200
	for name, want := range map[string]string{
		"id":               "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
		"audience":         "default",
		"subject":          "alice",
		"idling-timeout":   "850", // 900 - (200 - 120 - 30)
		"rolling-timeout":  "3520",
		"absolute-timeout": "86200",
		"timeout":          "850",
	} {
		if got, ok := tm.property(name, d, now); !ok || got != want {
			t.Errorf("%s = %q, %v; want %q", name, got, ok, want)
		}
	}
	if _, ok := (timeouts{}).property("timeout", d, now); ok {
		t.Error("timeout without timeouts has a value")
	}
	if got, _ := (timeouts{rolling: 10.5}).property("rolling-timeout", d, d.created+120); got != "10.5" {
		t.Errorf("fractional rolling-timeout = %q", got)
	}
}
