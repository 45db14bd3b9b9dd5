// Package instance is the life of one business service instance, shared by accounts,
// inventory and orders: it reads the common settings from the environment (every one
// with a working default), logs JSON through log/slog with the service and instance as
// attributes, opens the service's own etcd, serves the service's handler next to
// /healthz and /readyz, keeps the instance registered with a discovery.Keeper, and on
// SIGTERM or SIGINT deregisters, drains the HTTP server and closes the store, in that
// order. Bad settings are all reported at once, and the process exits with status 2.
//
// It imports config, discovery, store and httpjson; never the harness, the scenarios,
// the gateway, the registry server or a service package (services hand it a Spec).
package instance
