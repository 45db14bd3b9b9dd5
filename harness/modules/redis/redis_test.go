package redis_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/modules/internal/moduletest"
	"github.com/faultline/faultline/harness/modules/redis"
	"github.com/faultline/faultline/harness/wait"
)

// server brings up a Redis server from the machine's own redis-server.
func server(t *testing.T, opts ...redis.Option) (*harness.Running, *harness.Instance) {
	t.Helper()
	svc, err := redis.Service("cache", opts...)
	return moduletest.Up(t, svc, err, redis.ErrNotInstalled)
}

// client talks to the server through its link, each call bounded by a second.
func client(t *testing.T, in *harness.Instance) *goredis.Client {
	t.Helper()
	addr, err := in.Ingress.HostAddr(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(&goredis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestAServerFromTheModuleIsCutByItsLinkAndKeepsWhatItAcked: the module's declaration
// comes up ready to take commands through its link; a refusal on the link makes a
// command fail and the heal brings it back; killed with SIGKILL and restarted by the
// supervisor, the durable server still holds every acknowledged write, and the
// ephemeral one holds none.
func TestAServerFromTheModuleIsCutByItsLinkAndKeepsWhatItAcked(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []redis.Option
		kept int
	}{
		{"durable", nil, 100},
		{"ephemeral", []redis.Option{redis.Ephemeral()}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys, cache := server(t, tc.opts...)
			ctx := t.Context()
			c := client(t, cache)
			const writes = 100
			for i := range writes {
				if err := c.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
					t.Fatalf("set %d: %v", i, err)
				}
			}

			sc := fault.ScopeFor(t, sys.History())
			cut, err := sc.Apply(ctx, fault.Refuse(cache.Ingress))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Ping(ctx).Err(); err == nil {
				t.Fatal("a command through the refusing link succeeded")
			}
			if err := cut.Heal(ctx); err != nil {
				t.Fatal(err)
			}
			if err := wait.Until(ctx, 10*time.Second, "a ping after the heal", func(ctx context.Context) error { return c.Ping(ctx).Err() }); err != nil {
				t.Fatalf("after the heal: %v", err)
			}

			kill, err := sc.Apply(ctx, fault.Kill(cache))
			if err != nil {
				t.Fatal(err)
			}
			if err := kill.Heal(ctx); err != nil {
				t.Fatal(err)
			}
			var n int64
			if err := wait.Until(ctx, 30*time.Second, "the keys after the restart", func(ctx context.Context) error { var err error; n, err = c.DBSize(ctx).Result(); return err }); err != nil {
				t.Fatalf("after a SIGKILL and the restart: %v", err)
			}
			if n != int64(tc.kept) {
				t.Errorf("after a SIGKILL and the restart the server holds %d keys, want %d", n, tc.kept)
			}
		})
	}
}

// TestACallerReachesTheServerByTheAddrTemplate: redis.Addr in a caller's env becomes the
// caller's own link to the server's port.
func TestACallerReachesTheServerByTheAddrTemplate(t *testing.T) {
	if _, err := redis.Service("cache", redis.Binary("/no/such/redis-server")); err == nil || !strings.Contains(err.Error(), "give Binary") {
		t.Fatalf("a Binary that is not there: %v; want an error naming Binary", err)
	}
	cache, err := redis.Service("cache", redis.Image("redis:7"))
	if err != nil {
		t.Fatal(err)
	}
	app := harness.Service{Name: "app", Source: harness.Source{Binary: "/bin/app"}, Env: map[string]string{"REDIS_ADDR": redis.Addr("cache")}}
	p, err := harness.System{Name: "s", Services: []harness.Service{cache, app}}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := p.Instance("app-1")
	if want := harness.LinkRef("app-1.cache"); in.Env["REDIS_ADDR"] != want {
		t.Errorf("REDIS_ADDR = %q, want %q", in.Env["REDIS_ADDR"], want)
	}
}
