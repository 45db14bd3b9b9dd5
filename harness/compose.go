package harness

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/wait"
)

// LoadCompose reads a docker-compose file (compose-spec, through compose-go) as a
// System for the docker runtime, leaving the file as it is. Interpolation, .env and
// env_file, extends and profiles are compose-go's, exactly as `docker compose` reads them.
//
// Every service becomes a by-name service (Service.ByName): the others reach it at its
// compose name and container ports, as they do under compose, but each name resolves to
// a Toxiproxy proxy of the instance's own, so every service-to-service call goes through
// a link that faults can cut. What maps, and how:
//
//   - build (context, with the context's Dockerfile) or image (already in the local
//     engine: faultline pulls nothing): the service's Source;
//   - ports and expose: its container ports (ports' published host side is ignored:
//     faultline publishes every port on a free host port), named by the long syntax's
//     name, or "p" and the number ("p5432");
//   - environment (after interpolation and env_file), command: Env and Args;
//   - healthcheck: readiness, its test run in the container (CMD, or CMD-SHELL through
//     /bin/sh -c); without one, the first port accepting connections;
//   - depends_on, whatever its condition: start order (faultline starts a service once
//     every service it depends on is ready);
//   - deploy.replicas or scale: Replicas; restart: "no" (compose's default) is never,
//     any other policy on-failure;
//   - labels, container_name, hostname, networks (the default one only), profiles, x-
//     extensions: nothing to map; they are left out.
//
// Anything else is refused: every key that cannot be mapped is one error naming the
// service, the key and why, all of them at once.
func LoadCompose(ctx context.Context, path string, opts ...ComposeOption) (System, error) {
	var c composeConfig
	for _, o := range opts {
		o(&c)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return System{}, fmt.Errorf("load compose file %s: %w", path, err)
	}
	popts := []cli.ProjectOptionsFn{cli.WithWorkingDirectory(filepath.Dir(abs)), cli.WithOsEnv, cli.WithDotEnv}
	if c.name != "" {
		popts = append(popts, cli.WithName(c.name))
	}
	if len(c.profiles) > 0 {
		popts = append(popts, cli.WithProfiles(c.profiles))
	}
	po, err := cli.NewProjectOptions([]string{abs}, popts...)
	if err != nil {
		return System{}, fmt.Errorf("load compose file %s: %w", path, err)
	}
	project, err := po.LoadProject(ctx)
	if err != nil {
		return System{}, fmt.Errorf("load compose file %s: %w", path, err)
	}
	sys, err := composeSystem(project)
	if err != nil {
		return System{}, fmt.Errorf("load compose file %s: %w", path, err)
	}
	if err := sys.Validate(); err != nil {
		return System{}, fmt.Errorf("load compose file %s: %w", path, err)
	}
	return sys, nil
}

// ComposeOption customises LoadCompose.
type ComposeOption func(*composeConfig)

type composeConfig struct {
	name     string
	profiles []string
}

// WithComposeName sets the project's name, which names the System (default: the file's
// name: key, or its directory's name, as compose has it).
func WithComposeName(name string) ComposeOption { return func(c *composeConfig) { c.name = name } }

// WithComposeProfiles turns on compose profiles (default: none, as `docker compose up`).
func WithComposeProfiles(profiles ...string) ComposeOption {
	return func(c *composeConfig) { c.profiles = profiles }
}

// composeKeys are the service keys LoadCompose maps or may leave out; every other key a
// service sets is refused with the reason in composeRefused, or a general one.
var composeKeys = map[string]bool{
	"build": true, "image": true, "ports": true, "expose": true, "environment": true, "env_file": true,
	"command": true, "depends_on": true, "healthcheck": true, "restart": true, "deploy": true, "scale": true,
	"labels": true, "container_name": true, "hostname": true, "networks": true, "profiles": true,
	"entrypoint": true, "user": true, "stop_signal": true,
}

// composeRefused says why a key is refused, and what to do, where there is more to say
// than that faultline does not map it yet.
var composeRefused = map[string]string{
	"volumes":           "faultline mounts nothing into an instance: bake the files into the image, or drop the volume",
	"working_dir":       "set it with WORKDIR in the Dockerfile",
	"network_mode":      "every instance must be on the run's own network, behind its proxies, for faults to reach it",
	"links":             "every service already reaches every other by its name",
	"external_links":    "faultline reaches only its own containers",
	"extra_hosts":       "a name outside the run would bypass every proxy",
	"stop_grace_period": "faultline stops with the stop signal and a fixed grace: drop it",
	"privileged":        "faultline runs no privileged container",
	"secrets":           "pass the value through environment instead",
	"configs":           "bake the file into the image instead",
}

// composeSystem maps a loaded project onto a System, collecting one error per key that
// cannot be mapped.
func composeSystem(p *types.Project) (System, error) {
	var errs []error
	bad := func(service, key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("services.%s.%s: %s", service, key, fmt.Sprintf(format, args...)))
	}
	sys := System{Name: p.Name}
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		cs := p.Services[name]
		for _, key := range composeSetKeys(cs) {
			if composeKeys[key] || strings.HasPrefix(key, "x-") {
				continue
			}
			why, ok := composeRefused[key]
			if !ok {
				why = "faultline cannot map this key: remove it for the run, or ask for it to be supported"
			}
			bad(name, key, "%s", why)
		}
		svc := Service{Name: name, ByName: true, ListenEnv: "-", AdvertiseEnv: "-", IDEnv: "-", Restart: "never"}
		svc.Source = composeSource(cs, func(key, format string, args ...any) { bad(name, key, format, args...) })
		svc.Ports = composePorts(cs, func(key, format string, args ...any) { bad(name, key, format, args...) })
		if len(svc.Ports) == 0 {
			bad(name, "ports", "the service declares no port: faultline reaches every service through a proxy on its ports; list the port it listens on under expose (expose: [\"8080\"])")
		}
		for k, v := range cs.Environment {
			if v == nil {
				continue // compose passes no value for a variable it could not resolve
			}
			if svc.Env == nil {
				svc.Env = map[string]string{}
			}
			svc.Env[k] = composeLiteral(*v)
		}
		for _, a := range cs.Command {
			svc.Args = append(svc.Args, composeLiteral(a))
		}
		svc.Entrypoint = slices.Clone([]string(cs.Entrypoint))
		svc.User = cs.User
		if cs.StopSignal != "" {
			// Compose takes the name with or without its SIG prefix, in any case.
			svc.StopSignal = strings.ToUpper(cs.StopSignal)
			if !strings.HasPrefix(svc.StopSignal, "SIG") {
				svc.StopSignal = "SIG" + svc.StopSignal
			}
			if _, ok := runtime.StopSignals[svc.StopSignal]; !ok {
				bad(name, "stop_signal", "%q: faultline stops with one of %s: pick one, or drop stop_signal for SIGTERM", cs.StopSignal, runtime.StopSignalNames())
				svc.StopSignal = ""
			}
		}
		for _, dep := range slices.Sorted(maps.Keys(cs.DependsOn)) {
			if cs.DependsOn[dep].Condition == types.ServiceConditionCompletedSuccessfully {
				bad(name, "depends_on."+dep+".condition", "service_completed_successfully waits for a one-shot job, and faultline runs only services that keep running: run the job before the experiment")
				continue
			}
			svc.DependsOn = append(svc.DependsOn, Dependency{Service: dep})
		}
		svc.Ready = composeReady(cs, svc.Ports)
		svc.Replicas = 1
		if n := cs.GetScale(); n != 1 {
			svc.Replicas = n
		}
		if cs.Deploy != nil {
			d := *cs.Deploy
			d.Replicas = nil
			if !composeZero(d) {
				bad(name, "deploy", "only deploy.replicas maps: faultline sets no resource limit, placement or update policy; keep replicas and drop the rest")
			}
		}
		switch r := cs.Restart; {
		case r == "" || r == types.RestartPolicyNo:
			svc.Restart = "never"
		case r == types.RestartPolicyAlways || r == types.RestartPolicyUnlessStopped || strings.HasPrefix(r, types.RestartPolicyOnFailure):
			svc.Restart = "on-failure"
		default:
			bad(name, "restart", "%q is not a compose restart policy: use no, always, on-failure or unless-stopped", r)
		}
		for net := range cs.Networks {
			if net != "default" {
				bad(name, "networks", "network %q: every instance is on the run's own network, where each name resolves to a proxy; drop the networks key", net)
			}
		}
		sys.Services = append(sys.Services, svc)
	}
	return sys, errors.Join(errs...)
}

// composeLiteral quotes s for faultline's templates: a compose file's values are the
// program's own, and a "{{" in them reaches it unchanged.
func composeLiteral(s string) string { return strings.ReplaceAll(s, "{{", `{{"{{"}}`) }

// composeSource is where the service's program comes from: its build context, or its
// image.
func composeSource(cs types.ServiceConfig, bad func(key, format string, args ...any)) Source {
	if cs.Build == nil {
		if cs.Image == "" {
			bad("image", "the service has neither build nor image: give one")
		}
		return Source{Image: cs.Image}
	}
	b := *cs.Build
	if df := b.Dockerfile; df != "" && df != "Dockerfile" {
		bad("build.dockerfile", "%q: faultline builds the context's own Dockerfile; name it Dockerfile, or give another context", df)
	}
	b.Context, b.Dockerfile = "", ""
	if !composeZero(b) {
		bad("build", "only build.context and build.dockerfile map (no build args, target or cache settings): bake them into the Dockerfile")
	}
	return Source{Dockerfile: cs.Build.Context}
}

// composePorts are the service's container ports, from ports then expose, each once.
func composePorts(cs types.ServiceConfig, bad func(key, format string, args ...any)) Ports {
	var out Ports
	add := func(key string, port int, name string) {
		if slices.ContainsFunc(out, func(p NamedPort) bool { return p.Port == port }) {
			return
		}
		if name == "" {
			name = "p" + strconv.Itoa(port)
		}
		out = append(out, NamedPort{Name: name, Port: port})
	}
	for i, p := range cs.Ports {
		key := fmt.Sprintf("ports[%d]", i)
		if p.Protocol != "" && p.Protocol != "tcp" {
			bad(key, "protocol %s: Toxiproxy carries TCP only; drop the port, or use tcp", p.Protocol)
			continue
		}
		add(key, int(p.Target), p.Name)
	}
	for i, e := range cs.Expose {
		key := fmt.Sprintf("expose[%d]", i)
		spec, proto, _ := strings.Cut(e, "/")
		if proto != "" && proto != "tcp" {
			bad(key, "%q: Toxiproxy carries TCP only; drop the port, or use tcp", e)
			continue
		}
		lo, hi, isRange := strings.Cut(spec, "-")
		from, err1 := strconv.Atoi(lo)
		to := from
		var err2 error
		if isRange {
			to, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || from < 1 || to > 65535 || to < from || to-from > 16 {
			bad(key, "%q is not a port or a short range of ports: write it like \"8080\" or \"9000-9002\"", e)
			continue
		}
		for port := from; port <= to; port++ {
			add(key, port, "")
		}
	}
	return out
}

// composeReady is the service's readiness: its healthcheck's test in the container, or
// its first port accepting connections.
func composeReady(cs types.ServiceConfig, ports Ports) *wait.Strategy {
	var r wait.Strategy
	hc := cs.HealthCheck
	switch {
	case hc != nil && !hc.Disable && len(hc.Test) > 1 && hc.Test[0] == "CMD":
		r = wait.ForExec(hc.Test[1:]...)
	case hc != nil && !hc.Disable && len(hc.Test) > 1 && hc.Test[0] == "CMD-SHELL":
		r = wait.ForExec("/bin/sh", "-c", strings.Join(hc.Test[1:], " "))
	case len(ports) > 0:
		r = wait.ForTCP(ports[0].Name)
	default:
		return nil
	}
	return &r
}

// composeSetKeys are the keys a service sets, as compose writes them.
func composeSetKeys(cs types.ServiceConfig) []string {
	b, err := yaml.Marshal(cs)
	if err != nil {
		return nil
	}
	var m map[string]any
	if yaml.Unmarshal(b, &m) != nil {
		return nil
	}
	return slices.Sorted(maps.Keys(m))
}

// composeZero tells whether a compose value sets no key.
func composeZero(v any) bool {
	b, err := yaml.Marshal(v)
	if err != nil {
		return false
	}
	var m map[string]any
	return yaml.Unmarshal(b, &m) == nil && len(m) == 0
}
