// Package security holds faultline's security hardening checks, as tests only: the
// reference gateway's access policy under load (every caller without a valid key gets
// exactly 401 and is never proxied; every call past a key's rate limit gets 429 with
// Retry-After; never a 5xx; the valid key's traffic still passes), the images the
// harness builds (non-root, nothing but the binary, no shell), and the exposure of a
// run (every listening socket on loopback, every published port bound to 127.0.0.1,
// containers on the run's networks only, no Docker socket, nothing privileged).
//
// Each check brings up as small a system as shows it — one local bring-up and one
// docker bring-up, each shared by its checks — and looks only at what its own run
// created (by pid, and by the faultline.run label). The docker checks skip, saying so,
// when no engine answers.
//
// It has no code outside its tests. It may import the harness and, in tests, the
// reference services' client packages; nothing imports it.
package security
