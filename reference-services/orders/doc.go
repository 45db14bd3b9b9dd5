// Package orders is the orders service: an order reserves stock in inventory, then
// debits the account in accounts, and is confirmed; when the debit is refused, or
// accounts cannot be reached, it releases the stock again (compensation) and is
// rejected with the reason. Every step carries an Idempotency-Key derived from the
// order's ("<key>/reserve", "<key>/debit", "<key>/release"), so that any step can be
// retried, on any instance, by any replica, without being applied twice.
//
// The order record in the service's own etcd is the saga's log: it is written as pending
// before any call, marked as compensating before stock is released, and made final last.
// A step whose outcome is unknown (a call timed out) leaves the order pending; a resume
// loop in every replica finishes pending orders once their dependencies answer again, so
// neither money nor stock is lost to a failure half-way.
//
// Dependencies are found through a discovery.Resolver (cached instance lists) and called
// over HTTP directly, round robin, another instance tried on failure.
//
// It imports discovery, store and httpjson; never the harness, the scenarios, the gateway,
// the registry server, instance, or the accounts and inventory packages (it speaks their
// HTTP APIs only).
package orders
