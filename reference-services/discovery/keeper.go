package discovery

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Keeper keeps one instance registered for as long as its context lives: it registers,
// heartbeats every interval, registers again by itself whenever the registry has
// forgotten the instance (registry restarted with a lapsed lease, instance evicted after a
// partition), and deregisters when the context ends.
type Keeper struct {
	client     *Client
	inst       Instance
	ttl        time.Duration
	interval   time.Duration
	reregister bool
	log        *slog.Logger
}

// KeeperOption customises a Keeper.
type KeeperOption func(*Keeper)

// WithTTL asks the registry for this lease length (default: the registry's, 3 s).
func WithTTL(d time.Duration) KeeperOption { return func(k *Keeper) { k.ttl = d } }

// WithHeartbeat sets the heartbeat interval (default 1 s).
func WithHeartbeat(d time.Duration) KeeperOption { return func(k *Keeper) { k.interval = d } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) KeeperOption { return func(k *Keeper) { k.log = l } }

// WithReregister turns the self-healing re-registration on or off (default on). Off exists
// only so that the resilience suites can prove they notice when it is missing.
func WithReregister(on bool) KeeperOption { return func(k *Keeper) { k.reregister = on } }

// NewKeeper returns a Keeper for inst; call Run to start it.
func NewKeeper(c *Client, inst Instance, opts ...KeeperOption) *Keeper {
	k := &Keeper{client: c, inst: inst, interval: time.Second, reregister: true, log: slog.Default()}
	for _, o := range opts {
		o(k)
	}
	return k
}

// Run registers the instance and keeps it registered until ctx ends, then deregisters it
// (with a short timeout of its own). It returns when done; errors are logged and retried,
// never returned, because a registry outage must not stop the instance from serving.
func (k *Keeper) Run(ctx context.Context) {
	log := k.log.With("service", k.inst.Service, "instance", k.inst.ID)
	registered := false
	tick := time.NewTicker(k.interval)
	defer tick.Stop()
	for {
		callCtx, cancel := context.WithTimeout(ctx, k.interval)
		switch {
		case !registered:
			if _, err := k.client.Register(callCtx, k.inst, k.ttl); err != nil {
				if ctx.Err() == nil {
					log.Warn("register failed; will retry", "err", err)
				}
			} else {
				registered = true
				log.Info("registered", "address", k.inst.Address)
			}
		default:
			_, err := k.client.Heartbeat(callCtx, k.inst.Service, k.inst.ID)
			switch {
			case errors.Is(err, ErrUnknownInstance):
				if k.reregister {
					log.Warn("registry forgot this instance; registering again")
					registered = false
					if _, err := k.client.Register(callCtx, k.inst, k.ttl); err == nil {
						registered = true
						log.Info("registered again", "address", k.inst.Address)
					}
				}
			case err != nil && ctx.Err() == nil:
				log.Warn("heartbeat failed; will retry", "err", err)
			}
		}
		cancel()
		select {
		case <-ctx.Done():
			if registered {
				dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
				if err := k.client.Deregister(dctx, k.inst.Service, k.inst.ID); err != nil {
					log.Warn("deregister failed", "err", err)
				} else {
					log.Info("deregistered")
				}
				dcancel()
			}
			return
		case <-tick.C:
		}
	}
}
