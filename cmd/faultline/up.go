package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// proc is one child process of `faultline up`.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
}

func cmdUp(ctx context.Context, args []string) int {
	fs := newFlagSet("up", "Start the reference system (registry, gateway, accounts, inventory, orders and\n"+
		"one etcd per service) as local processes on 127.0.0.1, print how to reach it, and\n"+
		"stop everything on Ctrl-C.")
	binDir := fs.String("bin", defaultBinDir(), "directory holding the built binaries (make build)")
	gatewayPort := fs.Int("gateway-port", 8080, "port of the gateway on 127.0.0.1 (0: any free port)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	dir, err := os.MkdirTemp("", "faultline-up-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "faultline up: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	var procs []*proc
	defer func() { stopAll(procs) }()
	start := func(name, bin string, env []string, args ...string) (*proc, error) {
		p, err := startProc(dir, name, filepath.Join(*binDir, bin), env, args...)
		if p != nil {
			procs = append(procs, p)
		}
		return p, err
	}

	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "faultline up: %v\n", err)
		return 1
	}
	ports := map[string]int{}
	for _, n := range []string{"registry", "accounts-db", "inventory-db", "orders-db"} {
		if ports[n], err = freePort(); err != nil {
			return fail(err)
		}
	}
	if *gatewayPort == 0 || !portFree(*gatewayPort) {
		if *gatewayPort, err = freePort(); err != nil {
			return fail(err)
		}
	}
	addr := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
	for _, db := range []string{"accounts-db", "inventory-db", "orders-db"} {
		peer, err := freePort()
		if err != nil {
			return fail(err)
		}
		client := "http://" + addr(ports[db])
		peerURL := "http://" + addr(peer)
		if _, err := start(db, "etcd", nil, "--name", db, "--data-dir", filepath.Join(dir, db),
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
			"--initial-cluster", db+"="+peerURL, "--log-level", "error"); err != nil {
			return fail(err)
		}
		if err := waitHTTP(ctx, client+"/health"); err != nil {
			return fail(fmt.Errorf("%s: %w", db, err))
		}
	}
	if _, err := start("registry", "registry", []string{"LISTEN_ADDR=" + addr(ports["registry"]), "DATA_DIR=" + filepath.Join(dir, "registry")}); err != nil {
		return fail(err)
	}
	if err := waitHTTP(ctx, "http://"+addr(ports["registry"])+"/healthz"); err != nil {
		return fail(fmt.Errorf("registry: %w", err))
	}
	replicas := map[string]int{"accounts": 2, "inventory": 2, "orders": 1}
	for _, svc := range []string{"accounts", "inventory", "orders"} {
		for i := 1; i <= replicas[svc]; i++ {
			port, err := freePort()
			if err != nil {
				return fail(err)
			}
			name := fmt.Sprintf("%s-%d", svc, i)
			env := []string{"LISTEN_ADDR=" + addr(port), "INSTANCE_ID=" + name,
				"REGISTRY_ADDR=" + addr(ports["registry"]), "ETCD_ENDPOINTS=" + addr(ports[svc+"-db"])}
			if _, err := start(name, svc, env); err != nil {
				return fail(err)
			}
			if err := waitHTTP(ctx, "http://"+addr(port)+"/readyz"); err != nil {
				return fail(fmt.Errorf("%s: %w", name, err))
			}
		}
	}
	gw := addr(*gatewayPort)
	if _, err := start("gateway", "gateway", []string{"LISTEN_ADDR=" + gw, "REGISTRY_ADDR=" + addr(ports["registry"])}); err != nil {
		return fail(err)
	}
	if err := waitHTTP(ctx, "http://"+gw+"/healthz"); err != nil {
		return fail(fmt.Errorf("gateway: %w", err))
	}
	fmt.Printf(`The reference system is up (logs in %s).

  gateway   http://%s
  registry  http://%s
  API key   demo-key

Try:
  curl -s -H 'X-API-Key: demo-key' -X POST http://%[2]s/api/accounts/v1/accounts -d '{"id":"alice","owner":"Alice"}'
  curl -s -H 'X-API-Key: demo-key' -H 'Idempotency-Key: dep-1' -X POST http://%[2]s/api/accounts/v1/accounts/alice/deposit -d '{"amount":100}'
  curl -s -H 'X-API-Key: demo-key' -X POST http://%[2]s/api/inventory/v1/items -d '{"id":"widget","name":"Widget","stock":10}'
  curl -s -H 'X-API-Key: demo-key' -X POST http://%[2]s/api/orders/v1/orders -d '{"account":"alice","item":"widget","qty":2,"amount":30}'
  curl -si -H 'X-API-Key: demo-key' http://%[2]s/api/accounts/v1/accounts/alice
  curl -s http://%[3]s/v1/services

Press Ctrl-C to stop everything.
`, dir, gw, addr(ports["registry"]))
	<-ctx.Done()
	fmt.Println("\nstopping…")
	return 0
}

func defaultBinDir() string {
	if d := os.Getenv("FAULTLINE_BIN"); d != "" {
		return d
	}
	if exe, err := os.Executable(); err == nil {
		return filepath.Dir(exe)
	}
	return "bin"
}

func startProc(dir, name, bin string, env []string, args ...string) (*proc, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("start %s: %w (run `make build` first, or pass --bin)", name, err)
	}
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return &proc{name: name, cmd: cmd, log: logf}, nil
}

// stopAll stops the processes in reverse start order: SIGTERM, then SIGKILL after 5 s.
func stopAll(procs []*proc) {
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		p.log.Close()
	}
}

func waitHTTP(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("answered %d", resp.StatusCode)
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("not ready at %s", url), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
