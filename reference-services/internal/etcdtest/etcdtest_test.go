package etcdtest

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

func healthy(s *Server) bool {
	resp, err := (&http.Client{Timeout: time.Second}).Get(s.Endpoint() + "/health")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func TestServerKillPauseRestart(t *testing.T) {
	s := Start(t)
	if !healthy(s) {
		t.Fatal("not healthy after Start")
	}
	s.Pause()
	if healthy(s) {
		t.Error("healthy while paused")
	}
	s.Resume()
	s.Kill()
	if healthy(s) {
		t.Error("healthy after Kill")
	}
	s.Restart()
	if !healthy(s) {
		t.Error("not healthy after Restart")
	}
}

func TestGoBuildInstallsAtomically(t *testing.T) {
	if testing.Short() {
		t.Skip("builds etcd (seconds when cached, about 90 s cold); skipped under -short")
	}
	out := filepath.Join(t.TempDir(), "etcd")
	if err := goBuild(RepoRoot(t), out, "go.etcd.io/etcd/server/v3"); err != nil {
		t.Fatal(err)
	}
	if !executable(out) {
		t.Fatalf("%s is not an executable after the build", out)
	}
	if err := goBuild(RepoRoot(t), out, "./no/such/package"); err == nil {
		t.Fatal("a failing build reported no error")
	}
	if !executable(out) {
		t.Fatal("a failing build damaged the installed binary")
	}
}
