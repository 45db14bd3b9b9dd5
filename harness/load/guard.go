package load

import (
	"fmt"
	"net"
	"net/url"
	"time"
)

// Limits every load obeys, whatever it asks for.
const (
	// MaxDuration bounds one load's duration.
	MaxDuration = 10 * time.Minute
	// MaxRate bounds an open load's arrival rate, in requests per second.
	MaxRate = 5000
	// MaxWorkers bounds a closed load's workers and an open load's concurrency.
	MaxWorkers = 512
)

// checkTarget accepts only loopback URLs: the harness reaches every system through
// ports published on 127.0.0.1, and load must never leave the machine.
func checkTarget(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%s %q is not an http URL: give one like http://127.0.0.1:8080", field, raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s %q is not on loopback: load goes only to 127.0.0.1 (the ports the harness publishes)", field, raw)
}

func checkDuration(field string, d time.Duration) error {
	if d <= 0 || d > MaxDuration {
		return fmt.Errorf("%s %s is out of range: give a duration above 0 and at most %s", field, d, MaxDuration)
	}
	return nil
}
