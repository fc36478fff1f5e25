package plugin

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"
)

// SetSerializeValue's edits reach the encoded log entry in order, with
// Kong's modes, and nil removes a key.
func TestSetSerializeValue(t *testing.T) {
	r := httptest.NewRequest("GET", "/p?a=1", nil)
	r.Header.Set("Authorization", "secret")
	c := &Ctx{Request: r, Status: 200}
	c.SetSerializeValue("request.headers.authorization", nil, SerializeSet)
	c.SetSerializeValue("custom.team", "payments", SerializeSet)
	c.SetSerializeValue("client_ip", "10.9.9.9", SerializeAdd)    // present: kept
	c.SetSerializeValue("absent", "x", SerializeReplace)          // absent: not added
	c.SetSerializeValue("response.status", 299, SerializeReplace) // present: replaced
	data, err := json.Marshal(NewLogEntry(c, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	req := m["request"].(map[string]any)
	if _, ok := req["headers"].(map[string]any)["authorization"]; ok {
		t.Errorf("authorization still serialized: %s", data)
	}
	if m["custom"].(map[string]any)["team"] != "payments" || m["client_ip"] != "" || m["absent"] != nil ||
		m["response"].(map[string]any)["status"] != float64(299) {
		t.Errorf("entry %s", data)
	}
	// without edits the struct encodes as before
	plain, _ := json.Marshal(NewLogEntry(&Ctx{Request: r, Status: 200}, time.Now()))
	var pm map[string]any
	if json.Unmarshal(plain, &pm) != nil || pm["custom"] != nil || pm["request"] == nil {
		t.Errorf("plain entry %s", plain)
	}
}
