// Package inventory is the inventory service: items with a stock of available units and
// a count of reserved ones, reservations and releases made safe to retry by an
// Idempotency-Key. All state lives in the service's own etcd, reached through store; a
// change is answered with success only once etcd has committed it.
//
// It imports store and httpjson; never the harness, the scenarios, the gateway, the
// registry server, instance, or another service (inventory knows nothing of orders).
package inventory
