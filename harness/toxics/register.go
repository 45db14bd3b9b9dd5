package toxics

import tox "github.com/Shopify/toxiproxy/v2/toxics"

// Register adds faultline's toxics to toxiproxy's registry, next to its own (latency,
// timeout, ...): TypeHTTP and TypeHTTPResponse. Call it before a toxiproxy server takes
// API calls; calling it again changes nothing.
func Register() {
	tox.Register(TypeHTTP, new(HTTP))
	tox.Register(TypeHTTPResponse, new(HTTPResponse))
}

// Types lists the toxic types Register adds.
func Types() []string { return []string{TypeHTTP, TypeHTTPResponse} }
