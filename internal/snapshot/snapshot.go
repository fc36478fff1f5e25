// Package snapshot holds the immutable compiled configuration that the data
// plane reads: router, services, balancers, certificates. It does no I/O.
package snapshot

import (
	"crypto/tls"
	"sync/atomic"

	"sluice/internal/model"
	"sluice/internal/router"
	"sluice/internal/upstream"
)

// Snapshot is one immutable compiled configuration. Nothing in it may be
// modified after it is published with Current.Store.
type Snapshot struct {
	Version   uint64
	Hash      string // Kong's configuration_hash (32 hex)
	Config    *model.Config
	Router    *router.Router
	Services  map[string]*model.Service     // by id
	Balancers map[string]*upstream.Balancer // by upstream name
	Certs     *Certs
}

// Certs selects server certificates by SNI.
type Certs struct{}

// Get returns the certificate for the TLS server name, or the default one.
func (c *Certs) Get(serverName string) *tls.Certificate { return nil }

// Current holds the snapshot being served.
type Current struct{ p atomic.Pointer[Snapshot] }

// Load returns the current snapshot, nil before the first Store.
func (c *Current) Load() *Snapshot { return c.p.Load() }

// Store publishes s. Only package reload calls it.
func (c *Current) Store(s *Snapshot) { c.p.Store(s) }
