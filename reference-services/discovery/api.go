package discovery

import "time"

// Instance is one running copy of a service as the registry knows it.
type Instance struct {
	// Service is the logical service name, e.g. "accounts".
	Service string `json:"service"`
	// ID is unique per instance, e.g. "accounts-1".
	ID string `json:"id"`
	// Address is host:port where callers reach the instance (its advertised address).
	Address string `json:"address"`
	// Meta carries free-form labels (version, zone, ...).
	Meta map[string]string `json:"meta,omitempty"`
}

// RegisterRequest is the body of POST /v1/register.
type RegisterRequest struct {
	Instance
	// TTLMillis asks for a lease length; zero takes the registry's default.
	TTLMillis int64 `json:"ttl_ms,omitempty"`
}

// Lease is what the registry grants on register and on heartbeat.
type Lease struct {
	Service string `json:"service"`
	ID      string `json:"id"`
	// TTLMillis is the lease length; the instance is evicted if it does not heartbeat within it.
	TTLMillis int64 `json:"ttl_ms"`
	// ExpiresAt is the wall-clock time the lease lapses unless renewed.
	ExpiresAt time.Time `json:"expires_at"`
	// Index is the registry index after the operation.
	Index uint64 `json:"index"`
}

// TTL returns the lease length as a duration.
func (l Lease) TTL() time.Duration { return time.Duration(l.TTLMillis) * time.Millisecond }

// Snapshot is the answer to GET /v1/services/{service}: the live instances of one
// service and the index at which that set last changed.
type Snapshot struct {
	Service   string     `json:"service"`
	Index     uint64     `json:"index"`
	Instances []Instance `json:"instances"`
}

// ServiceList is the answer to GET /v1/services.
type ServiceList struct {
	Index    uint64   `json:"index"`
	Services []string `json:"services"`
}

// ErrorBody is the JSON body of every error answer of the registry.
type ErrorBody struct {
	Error string `json:"error"`
}

// IndexHeader carries the registry index on every read answer, as Consul's X-Consul-Index.
const IndexHeader = "X-Registry-Index"
