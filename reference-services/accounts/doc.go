// Package accounts is the accounts service: accounts with a balance in whole minor units
// (cents), deposits and withdrawals made safe to retry by an Idempotency-Key, and a
// key-value register (GET, PUT, compare-and-set) that the harness's linearizability
// checker drives. All state lives in the service's own etcd, reached through store; a
// write is answered with success only once etcd has committed it.
//
// It imports store and httpjson; never the harness, the scenarios, the gateway, the
// registry server, instance, or another service (accounts knows nothing of orders).
package accounts
