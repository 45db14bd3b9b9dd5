// Package etcd declares an etcd server, alone or as an N-member cluster, as a service of
// a faultline system, in a few lines for the user:
//
//	kv, err := etcd.Service("kv")        // one member
//	kv, err := etcd.Cluster("kv", 3)     // kv-1, kv-2 and kv-3, one cluster
//
// Each member has two ports, "client" (2379) and "peer" (2380), each reached through
// links: callers reach a member's client port through its ingress link (or their own,
// with Endpoint in their env), and in a cluster each ordered pair of members talks
// through a link of its own on the peer port, so that the partition recipes
// (fault.Partition over Running.PeersOn(name, etcd.PeerPort)) cut exactly the pairs they
// name. etcd derives its member IDs from the peer URLs of --initial-cluster, which must
// therefore be the same on every member: the cluster is by name (harness.Cluster.ByName),
// every member names its peers "kv-2:2380", and a peer proxy of each member's own sends
// each name to that member's own link. Both run on the local runtime and on docker
// (where the binary is wrapped in a scratch image and the peer routers live in the
// run's proxy container).
//
// The program is etcd's own server, go.etcd.io/etcd/server/v3, built from the user's
// module (which then needs it in go.mod, e.g. `tool go.etcd.io/etcd/server/v3`) or taken
// prebuilt from $FAULTLINE_BIN; Binary names another. Every write is fsync'd before etcd
// acknowledges it, so a SIGKILL loses nothing acknowledged; data directories survive
// restarts.
package etcd

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/wait"
)

// The names of a member's ports.
const (
	ClientPort = "client"
	PeerPort   = "peer"
)

// Package is the Go package of etcd's server, which a member runs unless Binary says
// otherwise.
const Package = "go.etcd.io/etcd/server/v3"

// Option customises the declaration.
type Option func(*config)

type config struct {
	binary  string
	logLvl  string
	timeout time.Duration
	args    []string
	ownAddr bool
}

// Binary runs the etcd program at path instead of building Package.
func Binary(path string) Option { return func(c *config) { c.binary = path } }

// LogLevel sets etcd's --log-level (default "error": members log only what went wrong).
func LogLevel(level string) Option { return func(c *config) { c.logLvl = level } }

// StartTimeout bounds each member's start and readiness (default one minute).
func StartTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// AdvertiseOwnAddress makes a single member (Service) advertise its own client address
// instead of its ingress link's, for callers that dial the endpoint they are handed and
// never sync the advertised ones: a member handed no link of its own starts without
// waiting for the run's proxy host. A caller that does sync (clientv3's AutoSyncInterval)
// would then bypass the link, so leave it out for those. Cluster ignores it: its members'
// addresses must be links for partitions to hold.
func AdvertiseOwnAddress() Option { return func(c *config) { c.ownAddr = true } }

// Args appends flags of the user's own to every member's ("--heartbeat-interval", "50").
func Args(args ...string) Option { return func(c *config) { c.args = append(c.args, args...) } }

// Service declares a single-member etcd called name: its instance is name-1.
func Service(name string, opts ...Option) (harness.Service, error) {
	c, err := configure(name, opts)
	if err != nil {
		return harness.Service{}, err
	}
	svc := declare(name, c, []string{
		// A single member's peer port is never reached: bind any free one.
		"--listen-peer-urls", "http://127.0.0.1:0",
		"--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--initial-cluster", "{{.Name}}=http://127.0.0.1:2380",
	})
	svc.Ports = harness.Ports{{Name: ClientPort, Port: 2379}}
	if c.ownAddr {
		svc.Args[slices.Index(svc.Args, "--advertise-client-urls")+1] = `http://{{netaddr "` + ClientPort + `"}}`
	}
	return svc, nil
}

// Cluster declares an etcd cluster of members members called name-1 … name-N, which
// start together and are ready once each serves /health (which needs a leader) through
// its link. members must be 3 or more for a cluster that survives the loss of one.
func Cluster(name string, members int, opts ...Option) (harness.Service, error) {
	c, err := configure(name, opts)
	if err != nil {
		return harness.Service{}, err
	}
	if members < 2 {
		return harness.Service{}, fmt.Errorf("etcd cluster %q: members %d: a cluster has 2 or more (3 to survive the loss of one); use etcd.Service for a single member", name, members)
	}
	svc := declare(name, c, []string{
		"--listen-peer-urls", `http://{{listen "peer"}}`,
		"--initial-advertise-peer-urls", `http://{{advertise "peer"}}`,
		"--initial-cluster", `{{members "peer" | each "%s=http://%s" | join ","}}`,
		"--initial-cluster-state", "new",
		"--initial-cluster-token", "{{.Service}}",
	})
	svc.Replicas = members
	svc.Ports = harness.Ports{{Name: ClientPort, Port: 2379}, {Name: PeerPort, Port: 2380}}
	svc.Cluster = &harness.Cluster{Ports: []string{PeerPort}, PeersEnv: "-", ByName: true}
	return svc, nil
}

func configure(name string, opts []Option) (config, error) {
	c := config{logLvl: "error", timeout: time.Minute}
	for _, o := range opts {
		o(&c)
	}
	if strings.TrimSpace(name) == "" {
		return c, fmt.Errorf("etcd: name is empty: name the service (\"kv\")")
	}
	if c.binary != "" {
		if _, err := os.Stat(c.binary); err != nil {
			return c, fmt.Errorf("etcd %s: Binary: %w: give the path of an etcd program, or leave Binary out to build %s", name, err, Package)
		}
	}
	return c, nil
}

// declare is what a single member and a cluster's members share.
func declare(name string, c config, peer []string) harness.Service {
	src := harness.Source{Package: Package}
	if c.binary != "" {
		src = harness.Source{Binary: c.binary}
	}
	args := []string{
		"--name", "{{.Name}}", "--data-dir", "{{datadir}}/etcd",
		"--listen-client-urls", `http://{{listen "client"}}`,
		"--advertise-client-urls", `http://{{advertise "client"}}`,
		"--log-level", c.logLvl,
	}
	args = append(append(args, peer...), c.args...)
	ready := wait.ForHTTP(ClientPort, "/health")
	return harness.Service{
		Name: name, Source: src, Args: args,
		ListenEnv: "-", AdvertiseEnv: "-", IDEnv: "-",
		Ready: &ready, StartTimeout: c.timeout, Restart: "on-failure",
	}
}

// Endpoint is the address with which a caller reaches the etcd service called name: a
// template for the caller's Env ({{addr "kv" "client"}}), which becomes the caller's
// own link to its first member.
func Endpoint(name string) string { return `{{addr "` + name + `" "` + ClientPort + `"}}` }
