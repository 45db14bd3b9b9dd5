package scenarios_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/check"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/load"
	"github.com/faultline/faultline/harness/reference"
)

// env is what every scenario of one backend shares: the running reference system.
type env struct {
	backend string
	sys     *harness.Running
}

// Accounts, items and the routes the scenarios' load uses.
const (
	accountsN = 10
	itemsN    = 10
)

var client = &http.Client{Timeout: 5 * time.Second}

// call sends one request through the gateway with the demo key.
func (e *env) call(ctx context.Context, method, path, body string, header ...string) (int, string, error) {
	code, answer, _, err := exchange(ctx, e, method, path, body, header...)
	return code, answer, err
}

// seed creates the accounts and items the load reads and writes. Each create is tried
// again until it is made or found made (409), within 30 s: a system just up may time one
// out (its database's first writes), and a blind may have switched the gateway's
// retries off.
func (e *env) seed() {
	ctx := context.Background()
	for i := 0; i < accountsN; i++ {
		e.made(ctx, "/api/accounts/v1/accounts", fmt.Sprintf(`{"id":"acct-%d","owner":"owner %d","balance":1000000}`, i, i))
	}
	for i := 0; i < itemsN; i++ {
		e.made(ctx, "/api/inventory/v1/items", fmt.Sprintf(`{"id":"item-%d","name":"item %d","stock":1000000}`, i, i))
	}
}

// made posts body to path until the resource is created or found already there.
func (e *env) made(ctx context.Context, path, body string) {
	Eventually(func() error {
		code, answer, err := e.call(ctx, http.MethodPost, path, body)
		switch {
		case err != nil:
			return err
		case code != http.StatusCreated && code != http.StatusOK && code != http.StatusConflict:
			return fmt.Errorf("POST %s answered %d: %s", path, code, strings.TrimSpace(answer))
		}
		return nil
	}).WithContext(ctx).WithTimeout(30 * time.Second).WithPolling(500 * time.Millisecond).Should(Succeed())
}

// Request mixes for the load, by service.
var (
	readAccounts  = load.Request{Route: "accounts", Path: "/api/accounts/v1/accounts/acct-{r%10}"}
	readInventory = load.Request{Route: "inventory", Path: "/api/inventory/v1/items/item-{r%10}"}
	createOrders  = load.Request{Route: "orders", Method: http.MethodPost, Path: "/api/orders/v1/orders",
		Body: `{"account":"acct-{r%10}","item":"item-{r%10}","qty":1,"amount":1}`}
)

// drive starts open-model load through the gateway for d, at rate requests per second,
// recorded in the system's history; it stops by itself, and at the spec's end.
func (e *env) drive(ctx context.Context, name string, rate int, d time.Duration, mix ...load.Request) *load.Run {
	run, err := load.StartOpen(ctx, e.sys.History(), load.Open{
		Name: name, Base: reference.GatewayURL(e.sys), Rate: rate, Duration: d, Requests: mix,
		Header:  http.Header{"X-Api-Key": {reference.APIKey}},
		Timeout: 5 * time.Second, Seed: runSeed(),
	})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(run.Stop)
	return run
}

// steady is the reference system's steady-state hypothesis: the gateway is ready, every
// business instance is running and registered, and each service answers through the
// gateway.
func (e *env) steady() check.Hypothesis {
	probe := func(name, path string) check.Probe {
		return check.Probe{Name: name, Run: func(ctx context.Context) error {
			code, body, err := e.call(ctx, http.MethodGet, path, "")
			if err != nil {
				return err
			}
			if code != http.StatusOK {
				return fmt.Errorf("answered %d: %s", code, strings.TrimSpace(body))
			}
			return nil
		}}
	}
	registered := func(svc string) check.Probe {
		return check.Probe{Name: svc + " registered", Run: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			return reference.Registered(ctx, e.sys, svc)
		}}
	}
	return check.Hypothesis{Name: "reference system serves", Probes: []check.Probe{
		registered("accounts"), registered("inventory"), registered("orders"),
		probe("accounts answer", "/api/accounts/v1/accounts/acct-0"),
		probe("inventory answers", "/api/inventory/v1/items/item-0"),
	}}
}

// window returns the part of the history from `from` to now, on the run's clock.
func window(h *history.History, name string, from time.Duration) check.Window {
	return check.Window{Name: name, From: from, To: h.Now()}
}
