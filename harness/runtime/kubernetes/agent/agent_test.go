package agent

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// TestSiblingsAreTheOtherContainersProcesses reads a pod's /proc as the agent sees it:
// the pause process (pid 1), the agent's own container (its cgroup) and two processes of
// the instance's container; only the last two are siblings.
func TestSiblingsAreTheOtherContainersProcesses(t *testing.T) {
	own := "0::/kubepods/pod1/agent\n"
	app := "0::/kubepods/pod1/app\n"
	proc := fstest.MapFS{
		"1/cgroup":  {Data: []byte("0::/kubepods/pod1/pause\n")},
		"1/comm":    {Data: []byte("pause\n")},
		"7/cgroup":  {Data: []byte(app)},
		"7/comm":    {Data: []byte("accounts\n")},
		"9/cgroup":  {Data: []byte(app)},
		"9/comm":    {Data: []byte("helper\n")},
		"12/cgroup": {Data: []byte(own)},
		"12/comm":   {Data: []byte("faultline-toxip\n")},
		"13/cgroup": {Data: []byte(own)}, // the agent itself
		"self":      {Data: []byte("13")},
		"uptime":    {Data: []byte("1.0 1.0")},
	}
	got, err := Siblings(proc, 13)
	if err != nil {
		t.Fatal(err)
	}
	want := []Process{{PID: 7, Comm: "accounts"}, {PID: 9, Comm: "helper"}}
	slices.SortFunc(got, func(a, b Process) int { return a.PID - b.PID })
	if !slices.Equal(got, want) {
		t.Errorf("Siblings = %v, want %v", got, want)
	}
	if _, err := Siblings(proc, 99); err == nil {
		t.Error("Siblings of a process with no cgroup file: want an error")
	}
}

// TestKillSiblingsKillsAndWaits kills a real process (a child of the test) that a /proc
// in which only it belongs to another container names as the sibling, and returns once
// it is gone; with no sibling it fails rather than pass for a kill.
func TestKillSiblingsKillsAndWaits(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }() // reaps it, as the container's shim would
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	proc := podProc{pid: cmd.Process.Pid}
	killed, err := KillSiblings(t.Context(), proc, 13)
	if err != nil {
		t.Fatalf("KillSiblings: %v", err)
	}
	if len(killed) != 1 || killed[0].PID != cmd.Process.Pid {
		t.Fatalf("killed %v, want only the sleep (%d)", killed, cmd.Process.Pid)
	}
	select {
	case err := <-done:
		if !strings.Contains(err.Error(), "killed") {
			t.Errorf("the sleep ended with %v, want killed by SIGKILL", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the sleep still runs after KillSiblings returned")
	}

	if _, err := KillSiblings(t.Context(), podProc{}, 13); err == nil || !strings.Contains(err.Error(), "no process of another container") {
		t.Errorf("KillSiblings with no sibling = %v, want an error saying there is none", err)
	}
}

// TestTheHostsNamespaceIsRefused: on the host, "every other process" is the machine's.
func TestTheHostsNamespaceIsRefused(t *testing.T) {
	for _, tc := range []struct {
		link string
		ok   bool
	}{
		{hostPIDNamespace, false},
		{"", false},
		{"pid:[4026532461]", true},
	} {
		if err := ownNamespace(tc.link); (err == nil) != tc.ok {
			t.Errorf("ownNamespace(%q) = %v, want ok %t", tc.link, err, tc.ok)
		}
	}
	// This test runs on a host or in a container, never as a pod's agent: whichever, the
	// real link is read the same way Serve reads it.
	if link, err := os.Readlink("/proc/self/ns/pid"); err != nil || !strings.HasPrefix(link, "pid:[") {
		t.Errorf("readlink /proc/self/ns/pid = %q, %v: want pid:[inode]", link, err)
	}
}

// podProc is a /proc with the agent (pid 13, cgroup "agent"), the pause process and, when
// pid is set, that one process in the instance's cgroup, whose stat is read from the real
// /proc so that its death shows.
type podProc struct{ pid int }

func (p podProc) files() fstest.MapFS {
	m := fstest.MapFS{
		"1/cgroup":  {Data: []byte("0::/pause\n")},
		"13/cgroup": {Data: []byte("0::/agent\n")},
	}
	if p.pid != 0 {
		m[strconv.Itoa(p.pid)+"/cgroup"] = &fstest.MapFile{Data: []byte("0::/app\n")}
		m[strconv.Itoa(p.pid)+"/comm"] = &fstest.MapFile{Data: []byte("sleep\n")}
	}
	return m
}

func (p podProc) Open(name string) (fs.File, error) {
	if p.pid != 0 && name == strconv.Itoa(p.pid)+"/stat" {
		return os.DirFS("/proc").Open(name)
	}
	return p.files().Open(name)
}

// TestServeAnswersAndRefusesOnTheHost runs the agent's server where tests run, in the
// host's PID namespace: it answers its health check and refuses to kill, and it stops
// when its context ends. (A kill is proven in a real pod by the kubernetes runtime's
// conformance suite.)
func TestServeAnswersAndRefusesOnTheHost(t *testing.T) {
	if link, _ := os.Readlink("/proc/self/ns/pid"); link != hostPIDNamespace {
		t.Skipf("runs in PID namespace %s, not the host's: a kill here would not be refused", link)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, addr, slog.New(slog.DiscardHandler)) }()
	var resp *http.Response
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err = http.Get("http://" + addr + "/healthz"); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Post("http://"+addr+"/kill", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "host's PID namespace") {
		t.Errorf("POST /kill on the host = %s %q, want 403 saying it is the host's namespace", resp.Status, body)
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}
