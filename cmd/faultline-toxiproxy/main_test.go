package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestHelpAndBadFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"--help"}, &out, &errOut); code != 0 {
		t.Fatalf("--help exited %d", code)
	}
	for _, want := range []string{"-host", "-port", "http_response", "0.0.0.0"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("--help does not mention %s:\n%s", want, errOut.String())
		}
	}
	for _, args := range [][]string{{"-port", "70000"}, {"-log-level", "loud"}, {"extra"}, {"-nope"}, {"agent", "extra"}, {"agent", "-nope"}, {"agent", "-linger", "soon"}} {
		if code := run(args, &out, &errOut); code != 2 {
			t.Errorf("%v exited %d, want 2", args, code)
		}
	}
}

// TestStaticBinaryServesAndStopsOnSIGTERM builds the command as the docker runtime does
// and runs it as a process.
func TestStaticBinaryServesAndStopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "faultline-toxiproxy")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", strconv.Itoa(port))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()

	api := "http://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(api + "/version")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("API never answered: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Post(api+"/proxies", "application/json", strings.NewReader(
		`{"name":"p","listen":"127.0.0.1:0","upstream":"127.0.0.1:1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create proxy: %d", resp.StatusCode)
	}
	resp, err = http.Post(api+"/proxies/p/toxics", "application/json", strings.NewReader(
		`{"type":"http","stream":"upstream","attributes":{"action":"delay","delay_ms":5}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("add faultline's http toxic: %d", resp.StatusCode)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Read to the end of its output before Wait: Wait closes the pipe, and a line not
	// yet read would be lost.
	var msgs []string
	timeout := time.After(10 * time.Second)
read:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break read
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatalf("log line is not JSON: %q", l)
			}
			msgs = append(msgs, rec["msg"].(string))
		case <-timeout:
			t.Fatalf("still running 10 s after SIGTERM; logged %q", msgs)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	joined := strings.Join(msgs, "|")
	for _, want := range []string{"toxiproxy server started", "shutting down", "toxiproxy server closed"} {
		if !strings.Contains(joined, want) {
			t.Errorf("logs %q lack %q", msgs, want)
		}
	}
}
