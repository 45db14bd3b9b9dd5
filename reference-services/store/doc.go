// Package store is how a business service reaches its own etcd: a client whose every
// request is bounded (a dead or unreachable etcd gives ErrUnavailable within the request
// timeout, never a hang), JSON reads, and Apply, the one read-modify-write that every
// change goes through. Apply commits the new entity and, when the request carries an
// Idempotency-Key, the record of its answer in one etcd transaction guarded by the
// entity's mod revision, retrying on conflict; a replay of the same key returns the stored
// answer and applies nothing twice.
//
// By default (AckAfterCommit) Apply returns only after etcd has committed the write, so an
// acknowledged write survives any crash of the service. AckBeforeCommit is deliberately
// unsafe: it answers first and writes later, and exists only so that the resilience
// suites can prove they detect lost acknowledged writes.
//
// It imports etcd's client, log/slog and the standard library; never the harness, the
// scenarios, the gateway, the registry server, the instance lifecycle or a service package.
package store
