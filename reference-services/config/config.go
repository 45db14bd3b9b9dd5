// Package config reads the reference services' settings from environment variables, each
// with a working default, so that every service starts with no flags and no file. A bad
// value is an error that names the variable, what it holds and what it should hold.
//
// It imports nothing but the standard library.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Env reads settings from a lookup function (os.LookupEnv in production, a map in
// tests) and collects every bad value, so a service reports all of them at once.
type Env struct {
	lookup func(string) (string, bool)
	errs   []error
}

// FromOS returns an Env over the process environment.
func FromOS() *Env { return &Env{lookup: os.LookupEnv} }

// FromMap returns an Env over m, for tests.
func FromMap(m map[string]string) *Env {
	return &Env{lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

func (e *Env) raw(name string) (string, bool) {
	v, ok := e.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// String returns the variable's value, or def when it is unset or empty.
func (e *Env) String(name, def string) string {
	if v, ok := e.raw(name); ok {
		return v
	}
	return def
}

// Duration parses a Go duration such as "1s" or "250ms".
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not a duration: write it like 1s or 250ms (default %s)", name, v, def))
		return def
	}
	return d
}

// Int parses a whole number that must be at least min.
func (e *Env) Int(name string, def, min int) int {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not a whole number >= %d: set it to one, or unset it for the default %d", name, v, min, def))
		return def
	}
	return n
}

// Float parses a number that must be greater than zero.
func (e *Env) Float(name string, def float64) float64 {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not a number > 0: set it to one, or unset it for the default %g", name, v, def))
		return def
	}
	return f
}

// Bool parses on/off, true/false, 1/0, yes/no.
func (e *Env) Bool(name string, def bool) bool {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "1", "true", "on", "yes":
		return true
	case "0", "false", "off", "no":
		return false
	}
	e.errs = append(e.errs, fmt.Errorf("%s=%q is not on or off: write on or off, or unset it for the default %t", name, v, def))
	return def
}

// List splits a comma-separated value, dropping empty items.
func (e *Env) List(name string, def []string) []string {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// HostPort reads a host:port address.
func (e *Env) HostPort(name, def string) string {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	if _, _, err := net.SplitHostPort(v); err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not host:port: write it like 127.0.0.1:8080 or :8080 (default %s)", name, v, def))
		return def
	}
	return v
}

// WellKnown returns the variable's value if set; otherwise host:port when this process
// runs on a container network whose DNS knows the well-known host name, else
// 127.0.0.1:port. That is how a service finds the registry or its database with no
// configuration at all. Outside a container network it asks no resolver, so no lookup
// ever leaves the machine.
func (e *Env) WellKnown(name, host, port string) string {
	if v, ok := e.raw(name); ok {
		return v
	}
	if onContainerNetwork() {
		if addrs, err := net.LookupHost(host); err == nil && len(addrs) > 0 {
			return net.JoinHostPort(host, port)
		}
	}
	return net.JoinHostPort("127.0.0.1", port)
}

// onContainerNetwork tells whether name lookups go to Docker's embedded DNS server,
// which only containers on a user-defined network use.
func onContainerNetwork() bool {
	b, err := os.ReadFile("/etc/resolv.conf")
	return err == nil && strings.Contains(string(b), "nameserver 127.0.0.11")
}

// Err returns every bad value seen so far, joined, or nil.
func (e *Env) Err() error { return errors.Join(e.errs...) }

// Advertise returns the address other processes should use to reach a server listening
// on listen: the listen host when it is a specific one, else this host's name.
func Advertise(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		return listen
	}
	name, err := os.Hostname()
	if err != nil || name == "" {
		name = "127.0.0.1"
	}
	return net.JoinHostPort(name, port)
}
