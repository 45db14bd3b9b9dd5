package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"
)

// Machine is what the figures were measured on.
type Machine struct {
	CPU    string
	Cores  int
	Memory string
	OS     string
	Docker string
	Go     string
}

// Probe describes the machine this runs on; what it cannot learn it says so.
func Probe() Machine {
	m := Machine{Cores: goruntime.NumCPU(), CPU: "unknown", Memory: "unknown", OS: goruntime.GOOS}
	if v := field("/proc/cpuinfo", "model name", ':'); v != "" {
		m.CPU = v
	}
	if v := field("/proc/meminfo", "MemTotal", ':'); v != "" {
		if kb, err := strconv.ParseFloat(strings.TrimSuffix(v, " kB"), 64); err == nil {
			m.Memory = fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	if v := field("/etc/os-release", "PRETTY_NAME", '='); v != "" {
		m.OS = strings.Trim(v, `"`)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.OS += ", Linux " + strings.TrimSpace(string(b))
	}
	m.Docker = command("no engine answered", "docker", "version", "--format", "engine {{.Server.Version}} (API {{.Server.APIVersion}})")
	m.Go = command(goruntime.Version(), "go", "env", "GOVERSION")
	return m
}

// field is the value of the first line of path whose key is key, split at sep.
func field(path, key string, sep byte) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), string(sep))
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// command is the trimmed output of a command, or fallback when it fails.
func command(fallback, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if s := strings.TrimSpace(string(out)); err == nil && s != "" {
		return s
	}
	return fallback
}
