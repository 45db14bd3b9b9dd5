// Package postgres declares a PostgreSQL server as a service of a faultline system, in a
// few lines for the user: on the local runtime from the machine's own PostgreSQL
// (Debian's postgresql package), on docker from an image of the user's choice. Either
// way it is one instance with one port, "pg", reached through its link like any other
// service, so that faults on the link cut the database off its callers.
//
//	db, err := postgres.Service("db")                            // local
//	db, err := postgres.Service("db", postgres.Image("postgres:16")) // docker
//
// A caller reaches it with postgres.URL("db") in its env, a template that becomes the
// caller's own link to the database.
package postgres

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/wait"
)

// Port is the name of the server's one port.
const Port = "pg"

// User is the database role a client connects as, with no password (trust
// authentication: the server is a test's own), and Database the database it opens.
const (
	User     = "postgres"
	Database = "postgres"
)

// Option customises the declaration.
type Option func(*config)

type config struct {
	image  string
	bindir string
}

// Image runs the server from image, already in the local engine (docker runtime): an
// image that behaves as the official one does (POSTGRES_HOST_AUTH_METHOD, initdb on
// first start, port 5432, pg_isready inside).
func Image(image string) Option { return func(c *config) { c.image = image } }

// BinDir runs the server from PostgreSQL's programs in dir (local runtime; default: the
// newest /usr/lib/postgresql/*/bin, else the directory of pg_ctl on PATH).
func BinDir(dir string) Option { return func(c *config) { c.bindir = dir } }

// script initialises the data directory on the first start and runs the server in the
// foreground, so that the runtime's signals reach it: SIGINT is PostgreSQL's fast
// shutdown, SIGKILL a crash it recovers from with its WAL on the next start.
const script = `set -e
D="{{datadir}}/pgdata"
if [ ! -s "$D/PG_VERSION" ]; then
  rm -rf "$D"
  "$PGBIN/initdb" -D "$D" -U ` + User + ` --auth=trust -E UTF8 --no-instructions >/dev/null
fi
exec "$PGBIN/postgres" -D "$D" -p {{port}} -k "{{datadir}}" -c listen_addresses=127.0.0.1 -c fsync=on
`

// Service declares a PostgreSQL server called name.
func Service(name string, opts ...Option) (harness.Service, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	svc := harness.Service{
		Name: name, Ports: harness.Ports{{Name: Port, Port: 5432}},
		ListenEnv: "-", AdvertiseEnv: "-", IDEnv: "-",
		StopSignal: "SIGINT", Restart: "on-failure", StartTimeout: time.Minute,
	}
	if c.image != "" {
		svc.Source = harness.Source{Image: c.image}
		svc.Env = map[string]string{"POSTGRES_HOST_AUTH_METHOD": "trust"}
		r := wait.ForExec("pg_isready", "-h", "127.0.0.1", "-U", User)
		svc.Ready = &r
		return svc, nil
	}
	bindir := c.bindir
	if bindir == "" {
		var err error
		if bindir, err = findBinDir(); err != nil {
			return harness.Service{}, err
		}
	}
	for _, prog := range []string{"initdb", "postgres", "pg_isready"} {
		if _, err := os.Stat(filepath.Join(bindir, prog)); err != nil {
			return harness.Service{}, fmt.Errorf("postgres %s: %s has no %s (%v): give BinDir the directory of PostgreSQL's programs", name, bindir, prog, err)
		}
	}
	svc.Source = harness.Source{Binary: "/bin/sh"}
	svc.Args = []string{"-c", script, "postgres-" + name}
	svc.Env = map[string]string{"PGBIN": bindir}
	if os.Getuid() == 0 {
		svc.User = "postgres" // it refuses to run as root
	}
	r := wait.ForExec(filepath.Join(bindir, "pg_isready"), "-h", "127.0.0.1", "-p", "{{port}}", "-U", User)
	svc.Ready = &r
	return svc, nil
}

// URL is the connection URL with which a caller reaches the server called name: a
// template for the caller's Env, which becomes the caller's own link to it.
func URL(name string) string {
	return `postgres://` + User + `@{{addr "` + name + `" "` + Port + `"}}/` + Database + `?sslmode=disable`
}

// ErrNotInstalled is returned when the machine has no PostgreSQL server.
var ErrNotInstalled = errors.New("no PostgreSQL server on this machine")

// findBinDir finds the newest installed PostgreSQL's programs.
func findBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if d := filepath.Dir(p); fileExists(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("postgres: %w (looked in /usr/lib/postgresql/*/bin and beside pg_ctl on PATH): install Debian's postgresql (apt-get install postgresql), give BinDir, or run on docker with Image", ErrNotInstalled)
}

// versionOf reads the major version out of /usr/lib/postgresql/<version>/bin.
func versionOf(dir string) int {
	v := filepath.Base(filepath.Dir(dir))
	n := 0
	for _, r := range v {
		if r < '0' || r > '9' {
			break
		}
		n = n*10 + int(r-'0')
	}
	return n
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
