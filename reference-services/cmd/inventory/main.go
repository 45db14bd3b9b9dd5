// Command inventory runs one instance of the inventory service (default port 8082). It
// takes no flags: every setting comes from the environment and has a working default
// (see reference-services/README.md).
package main

import (
	"context"
	"net/http"

	"github.com/faultline/faultline/reference-services/instance"
	"github.com/faultline/faultline/reference-services/inventory"
)

func main() {
	instance.Main(instance.Spec{
		Name:        "inventory",
		DefaultPort: 8082,
		New: func(_ context.Context, d instance.Deps) (http.Handler, error) {
			return inventory.Handler(d.Store, d.Log), nil
		},
	})
}
