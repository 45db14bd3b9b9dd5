// Command orders runs one instance of the orders service (default port 8083). It takes
// no flags: every setting comes from the environment and has a working default (see
// reference-services/README.md).
package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/faultline/faultline/reference-services/discovery"
	"github.com/faultline/faultline/reference-services/instance"
	"github.com/faultline/faultline/reference-services/orders"
)

func main() {
	instance.Main(instance.Spec{Name: "orders", DefaultPort: 8083, New: build})
}

// build reads the orders settings, finds accounts and inventory through a cached
// resolver, and starts the loop that finishes orders left pending.
func build(ctx context.Context, d instance.Deps) (http.Handler, error) {
	callTimeout := d.Env.Duration("ORDERS_CALL_TIMEOUT", time.Second)
	resume := d.Env.Duration("ORDERS_RESUME_INTERVAL", 5*time.Second)
	if callTimeout <= 0 {
		return nil, fmt.Errorf("%w: ORDERS_CALL_TIMEOUT=%s: give a positive duration like 1s, or unset it for the default 1s", instance.ErrConfig, callTimeout)
	}
	opts := []orders.Option{
		orders.WithCallTimeout(callTimeout),
		orders.WithResumeInterval(resume),
		orders.WithOwner(d.Settings.InstanceID),
		orders.WithLogger(d.Log),
	}
	// Off only to show that an experiment notices a saga that does not compensate.
	if !d.Env.Bool("ORDERS_COMPENSATE", true) {
		opts = append(opts, orders.WithoutCompensation())
	}
	res := discovery.NewResolver(d.Registry, discovery.WithResolverLogger(d.Log.WithGroup("resolver")))
	context.AfterFunc(ctx, res.Close)
	svc := orders.New(d.Store, res, opts...)
	go svc.Resume(ctx)
	return svc.Handler(), nil
}
