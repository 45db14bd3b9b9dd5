package harness_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/runtime/docker"
	"github.com/faultline/faultline/harness/wait"
)

// oneProblem fails t unless err is one error: one line, not several joined, naming
// every fragment of want (the problem, where it is, and the fix).
func oneProblem(t testing.TB, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one that names %q", want)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("one problem came out as several errors:\n%s", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not say %q", msg, w)
		}
	}
}

// TestBadTopologyFileGivesOneErrorWithTheFix feeds the loader one mistake at a time: each
// must come back as one error naming the file, the line or service, the field, and
// what to write instead.
func TestBadTopologyFileGivesOneErrorWithTheFix(t *testing.T) {
	const head = "name: shop\nservices:\n"
	const b = "  - name: b\n    source: {binary: /bin/b}\n"
	cases := []struct {
		name string
		yaml string
		want []string
	}{
		// Malformed YAML.
		{"syntax: unclosed flow list", head + "  - name: a\n    source: {binary: /bin/a}\n    args: [-v\n",
			[]string{"shop.yaml", "line 4", "YAML syntax error", "fix the YAML near line 4", "an unclosed ["}},
		{"syntax: tab indentation", head + "  - name: a\n\tsource: {binary: /bin/a}\n",
			[]string{"shop.yaml", "line 3", "YAML syntax error", "tab", "fix the YAML near line 3"}},
		{"syntax: not YAML at all", "\x00\xff",
			[]string{"shop.yaml", "YAML syntax error", "fix the file"}},
		{"wrong type: replicas", head + "  - name: a\n    replicas: two\n    source: {binary: /bin/a}\n",
			[]string{"shop.yaml", "line 4", "services[0].replicas", `"two"`, "a whole number", "write a whole number"}},
		{"wrong type: replicas beyond int", head + "  - name: a\n    replicas: 99999999999999999999\n    source: {binary: /bin/a}\n",
			[]string{"line 4", "services[0].replicas", "a whole number"}},
		{"wrong type: depends_on not a list", head + "  - name: a\n    source: {binary: /bin/a}\n    depends_on: b\n" + b,
			[]string{"line 5", "services[0].depends_on", "a list", `"- item"`}},
		{"wrong type: source not a mapping", head + "  - name: a\n    source: /bin/a\n",
			[]string{"line 4", "services[0].source", "a mapping of fields", "key: value"}},
		{"wrong type: env not a mapping", head + "  - name: a\n    source: {binary: /bin/a}\n    env: [A=1]\n",
			[]string{"line 5", "services[0].env", "a mapping", "key: value"}},
		{"unknown field in a service", head + "  - name: a\n    replica: 2\n    source: {binary: /bin/a}\n",
			[]string{"line 4", `unknown field "replica" in service`, `did you mean "replicas"?`, "depends_on"}},
		{"unknown field with a space", head + "  - name: a\n    replica s: 2\n    source: {binary: /bin/a}\n",
			[]string{"line 4", `unknown field "replica s" in service`, `did you mean "replicas"?`}},
		{"unknown field at the top", "name: shop\nservice:\n  - name: a\n",
			[]string{"line 2", `unknown field "service" in system`, `did you mean "services"?`}},
		{"unknown field in a source", head + "  - name: a\n    source: {pkg: example.com/a}\n",
			[]string{"line 4", `unknown field "pkg" in source`, "package, binary, dockerfile, image"}},
		// An unknown service.
		{"dependency on an unknown service", head + "  - name: a\n    source: {binary: /bin/a}\n    depends_on: [{service: bb, env: B_ADDR}]\n" + b,
			[]string{`service "a"`, `depends_on[0] names unknown service "bb"`, "declare it under services, or fix the name", "the system has a, b"}},
		// Impossible replicas.
		{"replicas 0", head + "  - name: a\n    replicas: 0\n    source: {binary: /bin/a}\n",
			[]string{"shop.yaml", `service "a"`, "line 4", "replicas 0 is impossible", "use 1 to 16", "leave replicas out"}},
		{"replicas negative", head + "  - name: a\n    replicas: -2\n    source: {binary: /bin/a}\n",
			[]string{"shop.yaml", `service "a"`, "replicas -2 is impossible", "use 1 to 16"}},
		{"replicas absurd", head + "  - name: a\n    replicas: 100000\n    source: {binary: /bin/a}\n",
			[]string{"shop.yaml", `service "a"`, "replicas 100000 is impossible", "use 1 to 16"}},
		{"replicas negative on a cluster", head + "  - name: a\n    replicas: -1\n    cluster: {}\n    source: {binary: /bin/a}\n",
			[]string{"replicas -1 is impossible", "use 1 to 16"}},
		{"port 0", head + "  - name: a\n    port: 0\n    source: {binary: /bin/a}\n",
			[]string{"line 4", "port 0 is impossible", "1 to 65535"}},
		// Named ports.
		{"ports not a mapping", head + "  - name: a\n    source: {binary: /bin/a}\n    ports: [2379, 2380]\n",
			[]string{"shop.yaml", "line 5", "ports is not a mapping", "name: number", "{client: 2379, peer: 2380}"}},
		{"port number not a number", head + "  - name: a\n    source: {binary: /bin/a}\n    ports: {client: two}\n",
			[]string{"shop.yaml", "line 5", `ports.client is "two"`, "a whole number from 1 to 65535"}},
		{"port number 0", head + "  - name: a\n    source: {binary: /bin/a}\n    ports: {client: 0}\n",
			[]string{`service "a"`, "ports.client 0 is out of range", "use 1 to 65535"}},
		{"bad port name", head + "  - name: a\n    source: {binary: /bin/a}\n    ports: {Client_1: 2379}\n",
			[]string{`service "a"`, `"Client_1" is not a valid port name`, "lower-case letters"}},
		{"port and ports.http", head + "  - name: a\n    source: {binary: /bin/a}\n    port: 8080\n    ports: {http: 9000}\n",
			[]string{`service "a"`, "ports.http is declared, and port 8080 is the port named http too", "drop one of them"}},
		{"two ports on one number", head + "  - name: a\n    source: {binary: /bin/a}\n    ports: {client: 2379, peer: 2379}\n",
			[]string{`service "a"`, "ports.peer 2379 is the number of ports.client too", "a number of its own"}},
		{"cluster on an unknown port", head + "  - name: a\n    source: {binary: /bin/a}\n    replicas: 3\n    ports: {client: 2379, peer: 2380}\n    cluster: {ports: [peers]}\n",
			[]string{`service "a"`, `cluster.ports[0] "peers" is not a port of the service`, "use one of client, peer"}},
		{"dependency on an unknown port", head + "  - name: a\n    source: {binary: /bin/a}\n    depends_on: [{service: b, env: B_ADDR, port: grpc}]\n" + b,
			[]string{`service "a"`, `depends_on[0].port "grpc" is not a port of b`, "use one of http"}},
		// Readiness.
		{"ready empty", head + "  - name: a\n    source: {binary: /bin/a}\n    ready: {}\n",
			[]string{`service "a"`, "ready is empty", "set one of http, tcp, log, exec or all"}},
		{"ready exec without a command", head + "  - name: a\n    source: {binary: /bin/a}\n    ready: {exec: {command: []}}\n",
			[]string{`service "a"`, "ready.exec.command is empty", "give the program and its arguments"}},
		{"ready with two strategies", head + "  - name: a\n    source: {binary: /bin/a}\n    ready: {http: {path: /h}, tcp: {}}\n",
			[]string{`service "a"`, "ready sets http and tcp", "set exactly one of them", "all: [...]"}},
		{"ready on a missing port", head + "  - name: a\n    source: {binary: /bin/a}\n    ports: {pg: 5432}\n    ready: {tcp: {port: postgres}}\n",
			[]string{`service "a"`, `ready.tcp.port "postgres" is not a port of the service`, "use one of pg"}},
		{"ready http on a missing port", head + "  - name: a\n    source: {binary: /bin/a}\n    ready: {http: {port: admin, path: /healthz}}\n",
			[]string{`service "a"`, `ready.http.port "admin" is not a port of the service`, "use one of http"}},
		{"ready log pattern that does not compile", head + "  - name: a\n    source: {binary: /bin/a}\n    ready: {log: {pattern: \"ready (to\"}}\n",
			[]string{`service "a"`, `ready.log.pattern "ready (to" is not a regular expression`, "fix it"}},
		{"ready nested path", head + "  - name: a\n    source: {binary: /bin/a}\n    ready: {all: [{tcp: {}}, {http: {path: healthz}}]}\n",
			[]string{`service "a"`, `ready.all[1].http.path "healthz" is not a path`, "like /healthz"}},
		{"health and ready", head + "  - name: a\n    source: {binary: /bin/a}\n    health: /up\n    ready: {tcp: {}}\n",
			[]string{`service "a"`, "health and ready are both set", "http: {path: /up}", "drop one"}},
		{"unknown field in ready", head + "  - name: a\n    source: {binary: /bin/a}\n    ready: {htp: {path: /h}}\n",
			[]string{"line 5", `unknown field "htp" in ready`, `did you mean "http"?`}},
		{"start timeout without a unit", head + "  - name: a\n    source: {binary: /bin/a}\n    start_timeout: 30\n",
			[]string{"line 5", "services[0].start_timeout", "a duration", "such as 90s or 2m"}},
		{"start timeout negative", head + "  - name: a\n    source: {binary: /bin/a}\n    start_timeout: -5s\n",
			[]string{`service "a"`, "start_timeout -5s is negative"}},
		{"a link reference to no link", head + "  - name: a\n    source: {binary: /bin/a}\n    env: {PEER: \"{{link:a-1.b}}\"}\n",
			[]string{"shop.yaml", `service "a"`, "env PEER holds {{link:a-1.b}}", "a link the system does not have", "drop it"}},
		{"unknown field in a cluster", head + "  - name: a\n    source: {binary: /bin/a}\n    replicas: 2\n    cluster: {port: [peer]}\n",
			[]string{"line 6", `unknown field "port" in cluster`, `did you mean "ports"?`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := harness.Load(strings.NewReader(tc.yaml), "shop.yaml")
			oneProblem(t, err, tc.want...)
		})
	}
}

// TestBadDeclarationInGoGivesOneErrorWithTheFix is the same for a System declared in Go,
// where a zero Replicas means the default and only the impossible counts are errors.
func TestBadDeclarationInGoGivesOneErrorWithTheFix(t *testing.T) {
	svc := func(name string, mod func(*harness.Service)) harness.Service {
		s := harness.Service{Name: name, Source: harness.Source{Binary: "/bin/" + name}}
		if mod != nil {
			mod(&s)
		}
		return s
	}
	cases := []struct {
		name string
		sys  harness.System
		want []string
	}{
		{"replicas negative", harness.System{Services: []harness.Service{svc("a", func(s *harness.Service) { s.Replicas = -1 })}},
			[]string{`service "a"`, "replicas -1 is impossible", "use 1 to 16"}},
		{"replicas absurd", harness.System{Services: []harness.Service{svc("a", func(s *harness.Service) { s.Replicas = 1 << 30 })}},
			[]string{`service "a"`, "replicas 1073741824 is impossible", "use 1 to 16"}},
		{"cluster of one", harness.System{Services: []harness.Service{svc("a", func(s *harness.Service) { s.Replicas, s.Cluster = 1, &harness.Cluster{} })}},
			[]string{`service "a"`, "no peer", "replicas: 2 or more"}},
		{"unknown dependency", harness.System{Services: []harness.Service{
			svc("a", func(s *harness.Service) { s.DependsOn = []harness.Dependency{{Service: "ghost", Env: "G"}} }), svc("b", nil)}},
			[]string{`service "a"`, `unknown service "ghost"`, "the system has a, b"}},
		{"readiness on a missing port", harness.System{Services: []harness.Service{svc("a", func(s *harness.Service) {
			r := wait.ForAll(wait.ForHTTP("metrics", "/metrics"))
			s.Ready = &r
		})}},
			[]string{`service "a"`, `ready.all[0].http.port "metrics" is not a port of the service`, "use one of http"}},
		{"readiness of nothing", harness.System{Services: []harness.Service{svc("a", func(s *harness.Service) { s.Ready = &wait.Strategy{} })}},
			[]string{`service "a"`, "ready is empty"}},
		{"a port named twice", harness.System{Services: []harness.Service{svc("a", func(s *harness.Service) {
			s.Ports = harness.Ports{{Name: "client", Port: 2379}, {Name: "client", Port: 2380}}
		})}},
			[]string{`service "a"`, "ports.client is declared twice", "a name of its own"}},
		{"a port out of range", harness.System{Services: []harness.Service{svc("a", func(s *harness.Service) {
			s.Ports = harness.Ports{{Name: "client", Port: 70000}}
		})}},
			[]string{`service "a"`, "ports.client 70000 is out of range", "use 1 to 65535"}},
		{"a port on Port's number", harness.System{Services: []harness.Service{svc("a", func(s *harness.Service) {
			s.Port, s.Ports = 8080, harness.Ports{{Name: "admin", Port: 8080}}
		})}},
			[]string{`service "a"`, "ports.admin 8080 is the number of port too"}},
		{"a cluster on a port the service lacks", harness.System{Services: []harness.Service{svc("a", func(s *harness.Service) {
			s.Replicas, s.Cluster = 3, &harness.Cluster{Ports: []string{"peer"}}
		})}},
			[]string{`service "a"`, `cluster.ports[0] "peer" is not a port of the service`, "use one of http"}},
		{"a dependency whose address reaches the service nowhere", harness.System{Services: []harness.Service{
			svc("a", func(s *harness.Service) { s.DependsOn = []harness.Dependency{{Service: "b"}} }), svc("b", nil)}},
			[]string{`service "a"`, "depends_on[0].env is empty", `{{addr "b"}}`, "by_name"}},
		{"a stop signal no runtime sends", harness.System{Services: []harness.Service{svc("a", func(s *harness.Service) { s.StopSignal = "SIGSTOP" })}},
			[]string{`service "a"`, `stop_signal "SIGSTOP" is unknown`, "SIGQUIT", "leave it out for SIGTERM"}},
		{"an entrypoint without its program", harness.System{Services: []harness.Service{svc("a", func(s *harness.Service) { s.Entrypoint = []string{"", "-c"} })}},
			[]string{`service "a"`, "entrypoint[0] is empty"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			oneProblem(t, tc.sys.Validate(), tc.want...)
		})
	}
}

// TestFaultOnAnUnknownInstanceIsRefusedNotAPanic: Running.Instance and Running.Link
// answer nil for a name the system does not have; a fault built on that must be
// refused with the fix, before anything is injected, never panic.
func TestFaultOnAnUnknownInstanceIsRefusedNotAPanic(t *testing.T) {
	var r harness.Running // no instance and no link: every lookup misses
	cases := []struct {
		name  string
		fault fault.Fault
		field string
	}{
		{"kill", fault.Kill(r.Instance("acounts-1")), "instance"},
		{"pause", fault.Pause(r.Instance("acounts-1")), "instance"},
		{"restart", fault.Restart(r.Database("acounts")), "instance"},
		{"disconnect", fault.NetworkDisconnect(r.Instance("acounts-1")), "instance"},
		{"latency", fault.Latency(r.Link("acounts-1"), 100*time.Millisecond), "link"},
		{"refuse", fault.Refuse(r.Link("acounts-1.registry")), "link"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fault.NewScope(nil, nil).Apply(context.Background(), tc.fault)
			var pe *fault.ParamError
			if !errors.As(err, &pe) || pe.Field != tc.field {
				t.Fatalf("Apply = %v, want a *fault.ParamError on %s", err, tc.field)
			}
			oneProblem(t, err, tc.field, "no such name", "check the name")
		})
	}
}

// deadEngines are DOCKER_HOST values where nothing answers: a socket file nobody
// listens on, a socket path that does not exist, and a closed loopback port.
func deadEngines(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "dead.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatalf("listen %s: %v", sock, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = ln.Close() // the file stays; nobody answers on it

	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	closed := tcp.Addr().String()
	_ = tcp.Close()

	return map[string]string{
		"dead unix socket":     "unix://" + sock,
		"missing unix socket":  "unix://" + filepath.Join(dir, "missing.sock"),
		"closed loopback port": "tcp://" + closed,
	}
}

// TestUnreachableDockerEngineFailsFastWithTheFix: asked for docker where no engine
// answers, NewRuntime fails within seconds (before building anything), saying that the
// engine is unreachable, where it looked, and the three ways out.
func TestUnreachableDockerEngineFailsFastWithTheFix(t *testing.T) {
	for name, host := range deadEngines(t) {
		t.Run(name, func(t *testing.T) {
			t.Setenv("DOCKER_HOST", host)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			rt, err := harness.NewRuntime(ctx, "docker", slog.New(slog.DiscardHandler))
			took := time.Since(start)
			if rt != nil {
				_ = rt.Close(context.Background())
			}
			if !errors.Is(err, docker.ErrUnreachable) {
				t.Fatalf("NewRuntime(docker) with DOCKER_HOST=%s = %v, want docker.ErrUnreachable", host, err)
			}
			oneProblem(t, err, "docker engine unreachable", host, "DOCKER_HOST", "start Docker", "FAULTLINE_RUNTIME=local")
			if took > 3*time.Second {
				t.Errorf("took %v to say the engine is unreachable, want under 3s", took)
			}
		})
	}
}

// TestAutoFallsBackToLocalWhenNoEngineAnswers: "auto" with a dead engine runs local
// processes and says so in the log, with the reason.
func TestAutoFallsBackToLocalWhenNoEngineAnswers(t *testing.T) {
	host := deadEngines(t)["closed loopback port"]
	t.Setenv("DOCKER_HOST", host)
	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rt, err := harness.NewRuntime(ctx, "auto", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("NewRuntime(auto) with no engine: %v", err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	if rt.Name() != "local" {
		t.Errorf("auto chose %s with no engine, want local", rt.Name())
	}
	for _, w := range []string{"using local processes", "unreachable", host} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("the log does not say %q:\n%s", w, logs.String())
		}
	}
}

// TestUnknownRuntimeKindNamesTheChoices checks FAULTLINE_RUNTIME's own bad input.
func TestUnknownRuntimeKindNamesTheChoices(t *testing.T) {
	_, err := harness.NewRuntime(context.Background(), "podman", nil)
	oneProblem(t, err, `"podman"`, "use docker, local, kubernetes or auto")
}

// TestKubernetesWithNoClusterSaysWhereItLookedAndTheFix: FAULTLINE_RUNTIME=kubernetes
// with no kubeconfig fails at once, before building anything, naming KUBECONFIG.
func TestKubernetesWithNoClusterSaysWhereItLookedAndTheFix(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-such-kubeconfig"))
	t.Setenv("HOME", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := harness.NewRuntime(ctx, "kubernetes", nil)
	oneProblem(t, err, "kubernetes runtime", "KUBECONFIG", "ci/kube.sh up")
}
