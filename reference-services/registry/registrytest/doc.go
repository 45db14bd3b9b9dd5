// Package registrytest runs a real registry for tests, the way net/http/httptest runs a
// server: on loopback, over a bbolt file the test names (usually in t.TempDir()), cleaned
// up with the test. Stop and StartAt let a test take the registry down and bring it back
// at the same address, on the same file or a fresh one.
//
// It imports reference-services/registry and discovery, and nothing of harness/,
// scenarios/, the gateway or the business services.
package registrytest
