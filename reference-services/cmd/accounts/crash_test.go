//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/reference-services/internal/etcdtest"
)

// proc is the accounts binary run as a child process.
type proc struct {
	t    *testing.T
	bin  string
	env  []string
	log  *os.File
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) start() {
	p.t.Helper()
	cmd := exec.Command(p.bin)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start accounts: %v", err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(p.done)
}

func (p *proc) kill() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.cmd = nil
}

func (p *proc) logs() string {
	b, _ := os.ReadFile(p.log.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func waitReady(t *testing.T, p *proc, base string) {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := hc.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.done:
			t.Fatalf("accounts exited before it was ready:\n%s", p.logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("accounts not ready within 60 s:\n%s", p.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func post(ctx context.Context, hc *http.Client, url, key, body string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func balance(t *testing.T, base string) int64 {
	t.Helper()
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(base + "/v1/accounts/acct")
	if err != nil {
		t.Fatalf("read balance: %v", err)
	}
	defer resp.Body.Close()
	var a struct {
		Balance int64 `json:"balance"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("read balance: %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("read balance: %v", err)
	}
	return a.Balance
}

// TestCrashLosesNoAcknowledgedDeposit kills the accounts process with SIGKILL in the middle
// of concurrent deposits and checks, after a restart, that every acknowledged deposit is in
// the balance: acknowledged <= balance <= attempted. Run with the unsafe before-commit
// acknowledgement, the same check must see deposits lost: that proves the check can fail.
func TestCrashLosesNoAcknowledgedDeposit(t *testing.T) {
	if testing.Short() {
		t.Skip("process crash test: builds cmd/accounts and runs it against a real etcd; skipped under -short")
	}
	bin := etcdtest.BuildCommand(t, "accounts")
	for _, tc := range []struct {
		ack      string
		wantLoss bool
	}{
		{"after-commit", false},
		{"before-commit", true},
	} {
		t.Run(tc.ack, func(t *testing.T) {
			etcd := etcdtest.Start(t)
			addr := freeAddr(t)
			base := "http://" + addr
			logf, err := os.Create(filepath.Join(t.TempDir(), "accounts.log"))
			if err != nil {
				t.Fatal(err)
			}
			defer logf.Close()
			p := &proc{t: t, bin: bin, log: logf, env: []string{
				"LISTEN_ADDR=" + addr, "ETCD_ENDPOINTS=" + etcd.Endpoint(), "INSTANCE_ID=accounts-crash",
				"REGISTRY_ADDR=" + freeAddr(t), // nothing listens: registration fails, serving must not
				"STORE_ACK=" + tc.ack, "LOG_LEVEL=error",
			}}
			p.start()
			t.Cleanup(p.kill)
			waitReady(t, p, base)
			hc := &http.Client{Timeout: 10 * time.Second}
			if s, err := post(context.Background(), hc, base+"/v1/accounts", "", `{"id": "acct", "owner": "Crash"}`); err != nil || s != http.StatusCreated {
				t.Fatalf("create account: %d %v", s, err)
			}

			type attempt struct {
				key    string
				amount int64
				acked  bool
			}
			var (
				mu       sync.Mutex
				attempts []*attempt
				acked    atomic.Int64
				stop     atomic.Bool
				wg       sync.WaitGroup
			)
			const workers = 8
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; !stop.Load(); i++ {
						a := &attempt{key: fmt.Sprintf("w%d-%d", w, i), amount: int64(i%5 + 1)}
						mu.Lock()
						attempts = append(attempts, a)
						mu.Unlock()
						s, err := post(context.Background(), hc, base+"/v1/accounts/acct/deposit", a.key, fmt.Sprintf(`{"amount": %d}`, a.amount))
						if err == nil && s/100 == 2 {
							mu.Lock()
							a.acked = true
							mu.Unlock()
							acked.Add(1)
						}
					}
				}()
			}
			// Kill mid-writes: once a good number of deposits are acknowledged.
			deadline := time.Now().Add(30 * time.Second)
			for acked.Load() < 300 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			p.kill()
			stop.Store(true)
			wg.Wait()

			var ackedSum, attemptedSum int64
			for _, a := range attempts {
				attemptedSum += a.amount
				if a.acked {
					ackedSum += a.amount
				}
			}
			if ackedSum == 0 {
				t.Fatalf("no deposit acknowledged before the kill:\n%s", p.logs())
			}
			p.start()
			waitReady(t, p, base)
			got := balance(t, base)
			t.Logf("%s: %d deposits attempted (sum %d), acknowledged sum %d, balance after the crash %d",
				tc.ack, len(attempts), attemptedSum, ackedSum, got)
			if tc.wantLoss {
				if got >= ackedSum {
					t.Errorf("with %s the check saw no lost acknowledged deposit (balance %d >= acknowledged %d): it would not catch the bug", tc.ack, got, ackedSum)
				}
				return
			}
			if got < ackedSum || got > attemptedSum {
				t.Fatalf("balance %d outside [acknowledged %d, attempted %d]: acknowledged deposits lost", got, ackedSum, attemptedSum)
			}
			// Retrying every unacknowledged deposit with its key applies each exactly once.
			for _, a := range attempts {
				if a.acked {
					continue
				}
				if s, err := post(context.Background(), hc, base+"/v1/accounts/acct/deposit", a.key, fmt.Sprintf(`{"amount": %d}`, a.amount)); err != nil || s != http.StatusOK {
					t.Fatalf("retry %s: %d %v", a.key, s, err)
				}
			}
			if got := balance(t, base); got != attemptedSum {
				t.Errorf("after retrying the unacknowledged deposits the balance is %d, want every attempt once: %d", got, attemptedSum)
			}
		})
	}
}
