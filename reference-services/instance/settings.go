package instance

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/faultline/faultline/reference-services/config"
	"github.com/faultline/faultline/reference-services/store"
)

// Settings are the settings every instance reads from its environment.
type Settings struct {
	// Service is the service name, e.g. "accounts".
	Service string
	// ListenAddr is where the HTTP server listens (LISTEN_ADDR, default ":<port>").
	ListenAddr string
	// AdvertiseAddr is the address registered for callers (ADVERTISE_ADDR, default the
	// listen address with this host's name).
	AdvertiseAddr string
	// InstanceID names this instance in the registry (INSTANCE_ID, default
	// "<service>-<hostname>-<port>": unique per host and port, stable across restarts).
	InstanceID string
	// RegistryAddr is the registry's host:port (REGISTRY_ADDR, default registry:8500 on a
	// container network, else 127.0.0.1:8500).
	RegistryAddr string
	// EtcdEndpoints are the service's own etcd servers (ETCD_ENDPOINTS, comma-separated,
	// default <service>-db:2379 on a container network, else 127.0.0.1:2379).
	EtcdEndpoints []string
	// Reregister turns the Keeper's re-registration on or off (REREGISTER, default on).
	Reregister bool
	// RegistryTTL is the lease asked of the registry (REGISTRY_TTL, default 0: the registry's).
	RegistryTTL time.Duration
	// Heartbeat is the Keeper's heartbeat interval (HEARTBEAT_INTERVAL, default 1s).
	Heartbeat time.Duration
	// StoreAck says when writes are acknowledged (STORE_ACK, default after-commit).
	StoreAck store.Ack
	// StoreTimeout bounds each store operation (STORE_TIMEOUT, default 2s).
	StoreTimeout time.Duration
	// ShutdownTimeout bounds the HTTP drain on SIGTERM (SHUTDOWN_TIMEOUT, default 10s).
	ShutdownTimeout time.Duration
	// LogLevel is the lowest level logged (LOG_LEVEL: debug, info, warn or error; default info).
	LogLevel slog.Level
}

// LoadSettings reads the settings of service name, listening by default on defaultPort,
// from env. Its error joins every bad value, env's earlier ones included.
func LoadSettings(env *config.Env, name string, defaultPort int) (Settings, error) {
	s, errs := load(env, name, defaultPort)
	return s, errors.Join(append(errs, env.Err())...)
}

// load reads the settings, returning the errors that env does not collect itself.
func load(env *config.Env, name string, defaultPort int) (Settings, []error) {
	var errs []error
	s := Settings{Service: name}
	s.ListenAddr = env.HostPort("LISTEN_ADDR", fmt.Sprintf(":%d", defaultPort))
	s.AdvertiseAddr = env.HostPort("ADVERTISE_ADDR", config.Advertise(s.ListenAddr))
	s.InstanceID = env.String("INSTANCE_ID", defaultInstanceID(name, s.AdvertiseAddr))
	s.RegistryAddr = env.WellKnown("REGISTRY_ADDR", "registry", "8500")
	for _, ep := range strings.Split(env.WellKnown("ETCD_ENDPOINTS", name+"-db", "2379"), ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			s.EtcdEndpoints = append(s.EtcdEndpoints, ep)
		}
	}
	if len(s.EtcdEndpoints) == 0 {
		errs = append(errs, fmt.Errorf("ETCD_ENDPOINTS is empty: give host:port of the %s etcd, comma-separated, or unset it for %s-db:2379", name, name))
	}
	s.Reregister = env.Bool("REREGISTER", true)
	s.RegistryTTL = env.Duration("REGISTRY_TTL", 0)
	s.Heartbeat = env.Duration("HEARTBEAT_INTERVAL", time.Second)
	if s.Heartbeat == 0 {
		errs = append(errs, fmt.Errorf("HEARTBEAT_INTERVAL=0s: give a positive duration like 1s, or unset it for the default 1s"))
		s.Heartbeat = time.Second
	}
	ack := env.String("STORE_ACK", "after-commit")
	var err error
	if s.StoreAck, err = store.ParseAck(ack); err != nil {
		errs = append(errs, fmt.Errorf("STORE_ACK=%s", err))
	}
	s.StoreTimeout = env.Duration("STORE_TIMEOUT", 2*time.Second)
	if s.StoreTimeout == 0 {
		errs = append(errs, fmt.Errorf("STORE_TIMEOUT=0s: give a positive duration like 2s, or unset it for the default 2s"))
		s.StoreTimeout = 2 * time.Second
	}
	s.ShutdownTimeout = env.Duration("SHUTDOWN_TIMEOUT", 10*time.Second)
	level := env.String("LOG_LEVEL", "info")
	if err := s.LogLevel.UnmarshalText([]byte(level)); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL=%q is not a level: use debug, info, warn or error (default info)", level))
	}
	return s, errs
}

// defaultInstanceID is "<service>-<hostname>-<port>": a container's hostname is unique,
// and the port tells apart instances that share a host.
func defaultInstanceID(service, advertise string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = strings.ToLower(rand.Text()[:8])
	}
	host = strings.SplitN(host, ".", 2)[0]
	if _, port, err := net.SplitHostPort(advertise); err == nil && port != "" {
		return service + "-" + host + "-" + port
	}
	return service + "-" + host
}
