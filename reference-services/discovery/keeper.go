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

// WithHeartbeat sets the heartbeat interval (default 1 s). The Keeper shortens it to a
// third of the lease the registry grants when that is shorter, so that one late
// heartbeat does not let the lease lapse.
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
	// attempted is set once a register call has been sent: one that timed out on our
	// side may still have reached the registry, so the instance must be deregistered.
	attempted := false
	interval := k.interval
	tick := time.NewTicker(interval)
	defer tick.Stop()
	register := func(callCtx context.Context, msg string) {
		attempted = true
		lease, err := k.client.Register(callCtx, k.inst, k.ttl)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("register failed; will retry", "err", err)
			}
			return
		}
		registered = true
		log.Info(msg, "address", k.inst.Address, "ttl", lease.TTL().String())
		// A heartbeat interval longer than a third of the lease would let it lapse
		// between two heartbeats: renew more often than asked.
		if short := lease.TTL() / 3; short > 0 && short < interval {
			interval = short
			tick.Reset(interval)
			log.Info("heartbeat interval shortened to a third of the lease", "interval", interval.String())
		}
	}
	for {
		callCtx, cancel := context.WithTimeout(ctx, interval)
		switch {
		case !registered:
			register(callCtx, "registered")
		default:
			_, err := k.client.Heartbeat(callCtx, k.inst.Service, k.inst.ID)
			switch {
			case errors.Is(err, ErrUnknownInstance):
				if k.reregister {
					log.Warn("registry forgot this instance; registering again")
					registered = false
					register(callCtx, "registered again")
				}
			case err != nil && ctx.Err() == nil:
				log.Warn("heartbeat failed; will retry", "err", err)
			}
		}
		cancel()
		select {
		case <-ctx.Done():
			if registered || attempted {
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
