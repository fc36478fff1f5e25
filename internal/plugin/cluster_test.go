package plugin

import "testing"

func TestClusterEvents(t *testing.T) {
	var sent []string
	SetClusterPublisher(func(kind string, data []byte) { sent = append(sent, kind+"="+string(data)) })
	defer SetClusterPublisher(nil)
	Broadcast("test:purge", []byte("k1"))
	if len(sent) != 1 || sent[0] != "test:purge=k1" {
		t.Errorf("published %q", sent)
	}
	var got string
	OnClusterEvent("test:purge", func(data []byte) { got = string(data) })
	if !DeliverClusterEvent("test:purge", []byte("k2")) || got != "k2" {
		t.Errorf("delivered %q", got)
	}
	if DeliverClusterEvent("test:nobody", nil) {
		t.Error("an event with no handler was delivered")
	}
	SetClusterPublisher(nil)
	Broadcast("test:purge", nil) // no publisher: nothing, no panic
}
