// Package shop is a user's system in miniature, put under faultline: two Go services,
// orders on PostgreSQL and web in front with a Redis cache, declared as its team would.
package shop

import (
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/modules/postgres"
	"github.com/faultline/faultline/harness/modules/redis"
)

// System declares the shop: every address a service is handed is a link of its own.
func System() (harness.System, error) {
	db, err := postgres.Service("db")
	if err != nil {
		return harness.System{}, err
	}
	cache, err := redis.Service("cache", redis.Ephemeral())
	if err != nil {
		return harness.System{}, err
	}
	return harness.System{Name: "shop", Services: []harness.Service{db, cache,
		{Name: "orders", Source: harness.Source{Package: "example.com/shop/cmd/orders"},
			Env:       map[string]string{"DATABASE_URL": postgres.URL("db")},
			DependsOn: []harness.Dependency{{Service: "db"}}},
		{Name: "web", Source: harness.Source{Package: "example.com/shop/cmd/web"},
			Env:       map[string]string{"ORDERS_ADDR": `{{addr "orders"}}`, "REDIS_ADDR": redis.Addr("cache")},
			DependsOn: []harness.Dependency{{Service: "orders"}, {Service: "cache"}}},
	}}, nil
}
