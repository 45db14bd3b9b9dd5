// Package proxyserver runs a Toxiproxy server (github.com/Shopify/toxiproxy/v2) inside
// the calling process, with faultline's own toxics (harness/toxics) registered: the
// local runtime's proxy host, and the core of cmd/faultline-toxiproxy, which the docker
// runtime runs as a container. Its API is the stock Toxiproxy HTTP API, so the stock
// client (and netfault) drive it.
//
// It owns the server's life (listen, serve, close every proxy) and the bridge from
// Toxiproxy's zerolog output to log/slog. It imports only harness/toxics of faultline,
// and must never import the harness root, runtime, fault, netfault, scenarios or
// reference-services.
package proxyserver
