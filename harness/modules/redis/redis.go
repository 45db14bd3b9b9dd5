// Package redis declares a Redis server as a service of a faultline system, in a few
// lines for the user: on the local runtime from the machine's own redis-server (Debian's
// redis-server package), on docker from an image of the user's choice. It is one
// instance with one port, "redis", reached through its link like any other service.
//
//	cache, err := redis.Service("cache")                             // local
//	cache, err := redis.Service("cache", redis.Image("redis:7"))      // docker
//
// Durable unless told otherwise: every write is appended to its log and fsync'd before
// it is acknowledged (appendfsync always), so a SIGKILL loses no acknowledged write;
// Ephemeral turns persistence off, for a cache.
package redis

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/wait"
)

// Port is the name of the server's one port.
const Port = "redis"

// ErrNotInstalled is returned when the machine has no redis-server.
var ErrNotInstalled = errors.New("no redis-server on this machine")

// Option customises the declaration.
type Option func(*config)

type config struct {
	image     string
	binary    string
	ephemeral bool
}

// Image runs the server from image, already in the local engine (docker runtime), whose
// entrypoint takes redis-server's arguments as the official image's does.
func Image(image string) Option { return func(c *config) { c.image = image } }

// Binary runs the server from the redis-server program at path (local runtime; default:
// redis-server on PATH).
func Binary(path string) Option { return func(c *config) { c.binary = path } }

// Ephemeral keeps nothing on disk: a restart starts empty, as a cache's would.
func Ephemeral() Option { return func(c *config) { c.ephemeral = true } }

// Service declares a Redis server called name.
func Service(name string, opts ...Option) (harness.Service, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	persistence := []string{"--appendonly", "yes", "--appendfsync", "always", "--save", ""}
	if c.ephemeral {
		persistence = []string{"--appendonly", "no", "--save", ""}
	}
	svc := harness.Service{
		Name: name, Ports: harness.Ports{{Name: Port, Port: 6379}},
		ListenEnv: "-", AdvertiseEnv: "-", IDEnv: "-",
		Restart: "on-failure", StartTimeout: 30 * time.Second,
	}
	if c.image != "" {
		svc.Source = harness.Source{Image: c.image}
		svc.Args = append([]string{"redis-server", "--port", "6379", "--dir", "/data", "--protected-mode", "no"}, persistence...)
		r := wait.ForExec("redis-cli", "ping")
		svc.Ready = &r
		return svc, nil
	}
	bin := c.binary
	if bin == "" {
		p, err := exec.LookPath("redis-server")
		if err != nil {
			return harness.Service{}, fmt.Errorf("redis: %w (looked for redis-server on PATH): install Debian's redis-server (apt-get install redis-server), give Binary, or run on docker with Image", ErrNotInstalled)
		}
		bin = p
	}
	cli := filepath.Join(filepath.Dir(bin), "redis-cli")
	for _, prog := range []string{bin, cli} {
		if _, err := os.Stat(prog); err != nil {
			return harness.Service{}, fmt.Errorf("redis %s: %v: give Binary the path of a redis-server with redis-cli beside it", name, err)
		}
	}
	svc.Source = harness.Source{Binary: bin}
	svc.Args = append([]string{"--port", "{{port}}", "--bind", "127.0.0.1", "--dir", "{{datadir}}", "--daemonize", "no", "--logfile", ""}, persistence...)
	r := wait.ForExec(cli, "-p", "{{port}}", "ping")
	svc.Ready = &r
	return svc, nil
}

// Addr is the address with which a caller reaches the server called name: a template
// for the caller's Env ("{{addr \"cache\" \"redis\"}}"), which becomes the caller's own
// link to it.
func Addr(name string) string { return `{{addr "` + name + `" "` + Port + `"}}` }
