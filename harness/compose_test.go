package harness_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/netfault"
	"github.com/faultline/faultline/harness/wait"
)

// writeCompose writes files (path → content) under a new directory and returns the
// path of its compose.yaml.
func writeCompose(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "compose.yaml")
}

func TestLoadComposeMapsAServiceAsComposeRunsIt(t *testing.T) {
	t.Setenv("SHOP_DB_PASSWORD", "s3cret")
	path := writeCompose(t, map[string]string{
		"compose.yaml": `
name: shop
x-common: &common
  restart: always
services:
  web:
    <<: *common
    build: ./web
    labels: {team: shop}
    ports:
      - name: api
        target: 8080
        published: "80"
      - "9090:9090"
    expose: ["9100-9101"]
    environment:
      DATABASE_URL: postgres://app:${SHOP_DB_PASSWORD}@db:5432/app
      UNSET_HERE:
      GREETING: "hello {{.Name}}"
    env_file: web.env
    entrypoint: ["/bin/web", "serve"]
    command: ["--listen", ":8080"]
    depends_on:
      db:
        condition: service_healthy
      cache:
        condition: service_started
    deploy:
      replicas: 2
  db:
    image: postgres:16
    container_name: shop-db
    user: postgres
    stop_signal: int
    expose: ["5432"]
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U app"]
      interval: 1s
  cache:
    image: redis:7
    ports: ["6379"]
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
    restart: "no"
`,
		"web/Dockerfile": "FROM scratch\n",
		"web.env":        "FROM_FILE=yes\n",
	})
	sys, err := harness.LoadCompose(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if sys.Name != "shop" {
		t.Errorf("system name %q, want shop", sys.Name)
	}
	byName := map[string]harness.Service{}
	for _, s := range sys.Services {
		byName[s.Name] = s
		if !s.ByName || s.ListenEnv != "-" || s.AdvertiseEnv != "-" || s.IDEnv != "-" {
			t.Errorf("%s: by_name %v, listen_env %q, advertise_env %q, id_env %q: want a by-name service handed no variable of faultline's", s.Name, s.ByName, s.ListenEnv, s.AdvertiseEnv, s.IDEnv)
		}
	}
	web := byName["web"]
	if got, want := web.Source.Dockerfile, filepath.Join(filepath.Dir(path), "web"); got != want {
		t.Errorf("web source %+v, want the build context %s", web.Source, want)
	}
	wantPorts := harness.Ports{{Name: "api", Port: 8080}, {Name: "p9090", Port: 9090}, {Name: "p9100", Port: 9100}, {Name: "p9101", Port: 9101}}
	if !equalPorts(web.Ports, wantPorts) {
		t.Errorf("web ports %v, want %v", web.Ports, wantPorts)
	}
	if got := web.Env["DATABASE_URL"]; got != "postgres://app:s3cret@db:5432/app" {
		t.Errorf("DATABASE_URL %q: want it interpolated, with the name db left as it is", got)
	}
	if in, _ := mustPlan(t, sys).Instance("web-1"); in.Env["GREETING"] != "hello {{.Name}}" {
		t.Errorf("GREETING %q: a compose file's values reach the program unchanged, never as faultline's templates", in.Env["GREETING"])
	}
	if _, ok := web.Env["UNSET_HERE"]; ok {
		t.Error("a variable compose leaves unset must not be set")
	}
	if web.Env["FROM_FILE"] != "yes" {
		t.Errorf("env_file not read: env %v", web.Env)
	}
	if strings.Join(web.Entrypoint, " ") != "/bin/web serve" || strings.Join(web.Args, " ") != "--listen :8080" {
		t.Errorf("web entrypoint %q, args %q: want compose's entrypoint and command", web.Entrypoint, web.Args)
	}
	if web.User != "" || web.StopSignal != "" {
		t.Errorf("web user %q, stop signal %q: want the image's own", web.User, web.StopSignal)
	}
	if web.Replicas != 2 || web.Restart != "on-failure" {
		t.Errorf("web replicas %d, restart %q: want 2 and on-failure (restart: always)", web.Replicas, web.Restart)
	}
	if len(web.DependsOn) != 2 || web.DependsOn[0].Service != "cache" || web.DependsOn[1].Service != "db" || web.DependsOn[0].Env != "" {
		t.Errorf("web depends_on %+v, want cache and db, by name", web.DependsOn)
	}
	if r := web.Ready; r == nil || r.TCP == nil || r.TCP.Port != "api" {
		t.Errorf("web ready %v: want its first port accepting connections (it has no healthcheck)", web.Ready)
	}
	db := byName["db"]
	if db.Source.Image != "postgres:16" || db.Restart != "never" || db.Replicas != 1 {
		t.Errorf("db %+v: want image postgres:16, restart never (compose's default), 1 replica", db)
	}
	if db.User != "postgres" || db.StopSignal != "SIGINT" {
		t.Errorf("db user %q, stop signal %q: want postgres and SIGINT (compose's \"int\")", db.User, db.StopSignal)
	}
	if r := db.Ready; r == nil || r.Exec == nil || strings.Join(r.Exec.Command, " ") != "/bin/sh -c pg_isready -U app" {
		t.Errorf("db ready %v: want its CMD-SHELL healthcheck run through /bin/sh -c", db.Ready)
	}
	cache := byName["cache"]
	if want := wait.ForExec("redis-cli", "ping"); cache.Ready == nil || cache.Ready.String() != want.String() {
		t.Errorf("cache ready %v, want %v", cache.Ready, want)
	}
	// The plan gives every instance's ports proxies answering to its service's name, and
	// no link or variable for the dependencies: the name is the address.
	plan, err := sys.Plan()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := plan.Instance("web-2")
	if in.Alias != "web" || len(in.Env) != 3 {
		t.Errorf("web-2 alias %q, env %v: want alias web and only the file's variables", in.Alias, in.Env)
	}
	if strings.Join(in.Entrypoint, " ") != "/bin/web serve" {
		t.Errorf("web-2 entrypoint %q: the plan must carry it to the runtime", in.Entrypoint)
	}
	if dbIn, _ := plan.Instance("db-1"); dbIn.User != "postgres" || dbIn.StopSignal != "SIGINT" {
		t.Errorf("db-1 user %q, stop signal %q: the plan must carry them to the runtime", dbIn.User, dbIn.StopSignal)
	}
	for _, name := range []string{"web-2", "web-2_p9090", "db-1", "cache-1"} {
		if l, ok := plan.Link(name); !ok || l.Alias == "" {
			t.Errorf("link %s: %+v (found %v): want an ingress answering to its service's name", name, l, ok)
		}
	}
	if _, ok := plan.Link("web-1.db"); ok {
		t.Error("web-1.db planned: a by-name dependency needs no link of its own")
	}
	if got := strings.Join(in.After, ","); got != "cache-1,db-1" {
		t.Errorf("web-2 waits for %q, want cache-1,db-1", got)
	}
}

func equalPorts(a, b harness.Ports) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLoadComposeRefusesWhatItCannotMapByKey(t *testing.T) {
	svc := func(body string) string {
		return "name: shop\nservices:\n  app:\n    image: app:1\n    expose: [\"8080\"]\n" + body
	}
	cases := []struct {
		name, compose string
		want          []string
	}{
		{"a volume", svc("    volumes: [\"./data:/data\"]\n"), []string{"services.app.volumes:", "mounts nothing"}},
		{"a stop signal faultline cannot send", svc("    stop_signal: SIGWINCH\n"), []string{"services.app.stop_signal:", `"SIGWINCH"`, "SIGQUIT"}},
		{"a stop grace period", svc("    stop_grace_period: 1m\n"), []string{"services.app.stop_grace_period:", "fixed grace"}},
		{"host networking", svc("    network_mode: host\n"), []string{"services.app.network_mode:", "run's own network"}},
		{"a network of its own", svc("    networks: [back]\nnetworks:\n  back: {}\n"), []string{"services.app.networks:", `network "back"`}},
		{"a udp port", svc("    ports: [\"53:53/udp\"]\n"), []string{"services.app.ports[0]:", "TCP only"}},
		{"resource limits", svc("    deploy:\n      resources:\n        limits: {cpus: \"0.5\"}\n"), []string{"services.app.deploy:", "only deploy.replicas"}},
		{"a one-shot dependency", svc("    depends_on:\n      migrate: {condition: service_completed_successfully}\n  migrate:\n    image: app:1\n    expose: [\"1\"]\n"),
			[]string{"services.app.depends_on.migrate.condition:", "one-shot"}},
		{"no port", "name: shop\nservices:\n  worker:\n    image: w:1\n", []string{"services.worker.ports:", "expose"}},
		{"build args", "name: shop\nservices:\n  app:\n    build:\n      context: .\n      args: {V: \"1\"}\n    expose: [\"80\"]\n", []string{"services.app.build:", "build args"}},
		{"another dockerfile", "name: shop\nservices:\n  app:\n    build:\n      context: .\n      dockerfile: Dockerfile.dev\n    expose: [\"80\"]\n", []string{"services.app.build.dockerfile:", "Dockerfile.dev"}},
		{"a key faultline has no word for", svc("    privileged: true\n    cap_add: [NET_ADMIN]\n"), []string{"services.app.privileged:", "services.app.cap_add:", "cannot map this key"}},
		{"a name faultline cannot use", "name: shop\nservices:\n  my_app:\n    image: a:1\n    expose: [\"80\"]\n", []string{`"my_app"`, "lower-case letters"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeCompose(t, map[string]string{"compose.yaml": c.compose, "Dockerfile": "FROM scratch\n"})
			_, err := harness.LoadCompose(context.Background(), path)
			if err == nil {
				t.Fatalf("loaded; want an error naming %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestLoadComposeSaysWhatIsWrongWithTheFile(t *testing.T) {
	for name, body := range map[string]string{
		"not compose":      "services: [1, 2]\n",
		"unknown service":  "name: s\nservices:\n  a:\n    image: a:1\n    expose: [\"1\"]\n    depends_on: [ghost]\n",
		"no such variable": "name: s\nservices:\n  a:\n    image: ${IMAGE:?set IMAGE to the image to test}\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := writeCompose(t, map[string]string{"compose.yaml": body})
			if _, err := harness.LoadCompose(context.Background(), path); err == nil || !strings.Contains(err.Error(), "load compose file") {
				t.Errorf("error %v: want one that says the compose file could not be loaded, and why", err)
			}
		})
	}
	if _, err := harness.LoadCompose(context.Background(), filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("a missing file loaded")
	}
}

// TestComposeFileRunsUnchangedOnDocker brings a compose file up as it is: front calls
// back by its compose name, and every call goes through back's proxies, which the test
// cuts and heals. back runs two replicas, as compose would run them: the name answers
// with both instances' proxies.
func TestComposeFileRunsUnchangedOnDocker(t *testing.T) {
	newRuntime, ok := backends(t)["docker"]
	if !ok {
		t.Skip("no Docker engine answers: a compose file runs on the docker runtime only")
	}
	dockerfile := "FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n"
	path := writeCompose(t, map[string]string{
		"compose.yaml": `
name: compose-trial
services:
  front:
    build: ./front
    environment: {LISTEN_ADDR: "0.0.0.0:8080"}
    expose: ["8080"]
    depends_on:
      back: {condition: service_healthy}
  back:
    build: ./back
    environment: {LISTEN_ADDR: "0.0.0.0:9000"}
    expose: ["9000"]
    healthcheck:
      test: ["CMD", "/app", "probe", "127.0.0.1:9000"]
    deploy: {replicas: 2}
`,
		"front/Dockerfile": dockerfile,
		"back/Dockerfile":  dockerfile,
	})
	dir := filepath.Dir(path)
	for _, svc := range []string{"front", "back"} {
		buildStatic(t, "github.com/faultline/faultline/harness/runtime/conformance/testsvc", filepath.Join(dir, svc, "app"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sys, err := harness.LoadCompose(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := harness.Up(ctx, sys, harness.WithRuntime(newRuntime(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Down(context.Background()) })
	url, err := r.Instance("front-1").URL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fetch := func() int {
		status, _, _ := get(t, url+"/fetch?addr=back:9000")
		return status
	}
	if got := fetch(); got != http.StatusOK {
		t.Fatalf("front reaching back:9000: status %d, want 200", got)
	}
	links := []*netfault.Link{r.Link("back-1"), r.Link("back-2")}
	if err := links[0].Disable(ctx); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if got := fetch(); got != http.StatusOK {
			t.Fatalf("with back-1's proxy down, front reaching back:9000: status %d, want 200 through back-2's", got)
		}
	}
	if err := links[1].Disable(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fetch(); got != http.StatusBadGateway {
		t.Fatalf("with both of back's proxies down, front reaching back:9000: status %d, want 502: the call went round the proxies", got)
	}
	for _, l := range links {
		if err := l.Enable(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := fetch(); got != http.StatusOK {
		t.Fatalf("after the heal, front reaching back:9000: status %d, want 200", got)
	}
}

// buildStatic builds the Go main package pkg as a static binary at out.
func buildStatic(t *testing.T, pkg, out string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, b)
	}
}

// What the local runtime cannot do — give a name to answer to, replace an entrypoint, run
// as a user it cannot switch to — is refused before the first instance starts, by the
// field and with the fix.
func TestWhatOnlyDockerHasIsRefusedOnTheLocalRuntimeBeforeAnythingStarts(t *testing.T) {
	rt := backends(t)["local"](t)
	cases := []struct {
		name string
		set  func(*harness.Service)
		want []string
	}{
		{"by_name", func(s *harness.Service) { s.ByName = true }, []string{`service "back": by_name needs`, "FAULTLINE_RUNTIME=docker"}},
		{"an entrypoint", func(s *harness.Service) { s.Entrypoint = []string{"/bin/sh", "-c"} }, []string{"instance back-1 on the local runtime", "Spec.Entrypoint", "run on docker"}},
		{"a user this machine lacks", func(s *harness.Service) { s.User = "no-such-user-here" }, []string{"instance back-1 on the local runtime", `Spec.User "no-such-user-here"`, "no such user on this machine"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The refusal names back-1 although first-1 would start first: it comes
			// from the check before the bring-up, not from back-1's own start.
			first := harness.Service{Name: "first", Source: harness.Source{Package: "github.com/faultline/faultline/harness/runtime/conformance/testsvc"}}
			back := harness.Service{Name: "back", Source: first.Source, DependsOn: []harness.Dependency{{Service: "first", Env: "FIRST_ADDR"}}}
			tc.set(&back)
			_, err := harness.Up(context.Background(), harness.System{Name: "named", Services: []harness.Service{first, back}}, harness.WithRuntime(rt))
			if err == nil {
				t.Fatalf("up succeeded; want an error naming %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %v: want it to say %q", err, w)
				}
			}
		})
	}
}

func mustPlan(t *testing.T, sys harness.System) *harness.Plan {
	t.Helper()
	p, err := sys.Plan()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
