package plugin

import "context"

// CounterWindow is one fixed rate-limiting window of a request.
type CounterWindow struct {
	// Period is the window's length as an index in Kong's order: 0 second,
	// 1 minute, 2 hour, 3 day, 4 month, 5 year.
	Period uint8
	// Start is the window's start (unix seconds, UTC calendar).
	Start int64
	// Limit is the number of requests the window allows (> 0).
	Limit int64
}

// ClusterCounters are rate-limiting counters kept in the cluster's database
// (Kong's "cluster" policy and its ratelimiting_metrics table), shared by
// every node of the cluster. Implementations bound each call with their own
// timeout.
type ClusterCounters interface {
	// Take counts one request of identifier in every window, for the
	// plugin scoped to serviceID and routeID (Kong's all-zero UUID when the
	// plugin has none), all or nothing: when one window's usage has
	// reached its limit, nothing is counted. usage[i] receives window i's
	// usage before this request (len(usage) >= len(ws)). Atomic across
	// nodes: N concurrent requests against a limit of N all pass, the N+1th
	// does not.
	Take(ctx context.Context, serviceID, routeID, identifier string, ws []CounterWindow, usage []int64) error
}

// ResponseCell is one counter of response-ratelimiting in the cluster's
// database: a limit's period ("<name>_<period>", Kong's period column) and
// the window's start (unix seconds).
type ResponseCell struct {
	Period string
	Start  int64
}

// ResponseCounters are response-ratelimiting's counters in the cluster's
// database (Kong's "cluster" policy and its response_ratelimiting_metrics
// table). The ClusterCounters given to plugins implement it when the
// database has the table.
type ResponseCounters interface {
	// ResponseUsage reads each cell of identifier, for the plugin scoped
	// to serviceID and routeID (Kong's all-zero UUID when the plugin has
	// none): usage[i] receives cell i's value, 0 when it has none or a
	// negative one (len(usage) >= len(cells)).
	ResponseUsage(ctx context.Context, serviceID, routeID, identifier string, cells []ResponseCell, usage []int64) error
	// ResponseAdd adds n to every cell, creating it when needed.
	ResponseAdd(ctx context.Context, serviceID, routeID, identifier string, cells []ResponseCell, n int64) error
}
