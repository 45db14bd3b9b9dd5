// Command accounts runs one instance of the accounts service (default port 8081). It
// takes no flags: every setting comes from the environment and has a working default
// (see reference-services/README.md).
package main

import (
	"context"
	"net/http"

	"github.com/faultline/faultline/reference-services/accounts"
	"github.com/faultline/faultline/reference-services/instance"
)

func main() {
	instance.Main(instance.Spec{
		Name:        "accounts",
		DefaultPort: 8081,
		New: func(_ context.Context, d instance.Deps) (http.Handler, error) {
			return accounts.Handler(d.Store, d.Log), nil
		},
	})
}
