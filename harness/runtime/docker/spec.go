package docker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/faultline/faultline/harness/runtime"
)

// validName is what Docker accepts in a container name, and a run id or instance name
// must fit in one.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// validRepo is an image repository path (without registry host or tag).
var validRepo = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)

// newRunID is the time and a random suffix: sortable, and unique across processes.
func newRunID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

// validateSpec rejects what Docker would reject later, with less to say about it.
func validateSpec(s runtime.Spec) error {
	if !validName.MatchString(s.Name) {
		return fmt.Errorf("instance name %q: want letters, digits, '.', '_' or '-'", s.Name)
	}
	if s.Port < 0 || s.Port > 65535 {
		return fmt.Errorf("port %d out of range", s.Port)
	}
	if err := s.CheckPorts(); err != nil {
		return err
	}
	if s.Health != "" && s.Port == 0 {
		return errors.New("a health path needs a port")
	}
	n := 0
	for _, set := range []bool{s.Artifact.Binary != "", s.Artifact.Image != "", s.Artifact.Dockerfile != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("artifact %+v: set exactly one of Binary, Image, Dockerfile", s.Artifact)
	}
	return nil
}

func containerPort(port int) network.Port {
	p, _ := network.PortFrom(uint16(port), network.TCP)
	return p
}

// replacer fills in the placeholders of a Spec as a container sees them.
func replacer(s runtime.Spec) *strings.Replacer {
	port := strconv.Itoa(s.Port)
	pairs := []string{
		runtime.PlaceholderListen, "0.0.0.0:" + port,
		runtime.PlaceholderPort, port,
		runtime.PlaceholderNetAddr, s.Name + ":" + port,
		runtime.PlaceholderDataDir, dataDir,
	}
	for _, p := range s.Ports {
		n := strconv.Itoa(p.Port)
		pairs = append(pairs, runtime.ListenPlaceholder(p.Name), "0.0.0.0:"+n, runtime.PortPlaceholder(p.Name), n,
			runtime.NetAddrPlaceholder(p.Name), s.Name+":"+n)
	}
	return strings.NewReplacer(pairs...)
}

func replaceAll(args []string, s runtime.Spec) []string {
	if len(args) == 0 {
		return nil
	}
	rep := replacer(s)
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = rep.Replace(a)
	}
	return out
}

func replaceEnv(env map[string]string, s runtime.Spec) map[string]string {
	rep := replacer(s)
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[k] = rep.Replace(v)
	}
	return out
}

// readiness is how a container is known to be ready: its health path answers 200, or,
// without one, its port accepts a connection that the application (not Docker's port
// proxy) holds open. Neither execs anything in the container: scratch images have no shell.
func readiness(s runtime.Spec) wait.Strategy {
	switch {
	case s.Port == 0:
		return &runningStrategy{timeout: s.StartTimeout}
	case s.Health != "":
		return wait.ForHTTP(s.Health).
			WithPort(containerPort(s.Port).String()).
			WithStartupTimeout(s.StartTimeout).
			WithPollInterval(100 * time.Millisecond)
	default:
		return &portStrategy{port: containerPort(s.Port), timeout: s.StartTimeout}
	}
}

// describe says what a readiness wait waited for, and how long.
func describe(s wait.Strategy) string {
	what := "readiness"
	if d, ok := s.(fmt.Stringer); ok {
		what = d.String()
	}
	if t, ok := s.(wait.StrategyTimeout); ok && t.Timeout() != nil {
		return fmt.Sprintf("within %s (waited for %s)", *t.Timeout(), what)
	}
	return fmt.Sprintf("in time (waited for %s)", what)
}
