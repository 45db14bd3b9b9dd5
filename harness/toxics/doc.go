// Package toxics holds faultline's own toxics for Toxiproxy (github.com/Shopify/toxiproxy/v2),
// laid out like Toxiproxy's: one toxic per file, its attributes as JSON fields on its
// struct. Register adds them to Toxiproxy's registry; nothing registers at init.
//
// The http toxic decides per HTTP request instead of per connection (Toxiproxy's
// toxicity is drawn once per connection, so keep-alive hides it): it fails or delays the
// requests its rule matches and hits, reproducibly from a seed. Because Toxiproxy
// v2.12.0 gives a toxic one direction of a connection only, it works as a pair: http on
// the upstream stream reads requests and decides, http_response on the downstream
// stream writes the synthetic answers in their turn. netfault installs both on every
// proxy it creates.
//
// It imports only Toxiproxy and the standard library, and must never import the
// harness root, runtime, netfault, fault, scenarios or reference-services.
package toxics
