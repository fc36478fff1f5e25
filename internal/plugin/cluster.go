package plugin

import (
	"sync"
	"sync/atomic"
)

// Cluster events let a plugin make a local change happen on every node of
// a cluster (Kong's kong.cluster_events), such as proxy-cache purging an
// entry through one node's Admin API. cmd/sluice connects them to the
// PostgreSQL store's events; without a cluster (DB-less, embedded)
// Broadcast does nothing, and the change stays local, which is all there
// is.

var (
	publisher atomic.Pointer[func(kind string, data []byte)]
	clusterMu sync.RWMutex
	onCluster = map[string]func(data []byte){}
)

// SetClusterPublisher sets how Broadcast reaches the other nodes
// (cmd/sluice, at start).
func SetClusterPublisher(f func(kind string, data []byte)) { publisher.Store(&f) }

// Broadcast sends data to the other nodes' handler of kind (OnClusterEvent);
// the node that broadcasts has already made its own change.
func Broadcast(kind string, data []byte) {
	if f := publisher.Load(); f != nil && *f != nil {
		(*f)(kind, data)
	}
}

// OnClusterEvent registers the handler of kind's events from other nodes
// (a plugin's init).
func OnClusterEvent(kind string, fn func(data []byte)) {
	clusterMu.Lock()
	defer clusterMu.Unlock()
	onCluster[kind] = fn
}

// DeliverClusterEvent hands an event from another node to its handler;
// it reports whether there was one.
func DeliverClusterEvent(kind string, data []byte) bool {
	clusterMu.RLock()
	fn := onCluster[kind]
	clusterMu.RUnlock()
	if fn == nil {
		return false
	}
	fn(data)
	return true
}
