package wait_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/netfault"
	"github.com/faultline/faultline/harness/wait"
)

// target is an instance as a strategy sees it, with its output and its command's exit
// codes written by hand.
type target struct {
	logs  string
	codes []int // one per Exec, the last repeated
	execs int
	// hangFrom, when above 0, makes that Exec and every later one run until the wait's
	// deadline kills it, as a command a busy machine is slow to finish.
	hangFrom int
}

func (t *target) Name() string { return "node-1" }
func (t *target) Port(name string) (*netfault.Link, error) {
	return nil, errors.New("node-1 has no port called " + name)
}
func (t *target) Logs(context.Context) ([]byte, error) { return []byte(t.logs), nil }
func (t *target) Exec(ctx context.Context, cmd []string) (int, []byte, error) {
	code := t.codes[min(t.execs, len(t.codes)-1)]
	t.execs++
	if t.hangFrom > 0 && t.execs >= t.hangFrom {
		<-ctx.Done()
		return 0, nil, fmt.Errorf("exec %s: signal: killed", cmd[0])
	}
	return code, []byte("starting\n" + strings.Join(cmd, " ") + " said no\n"), nil
}

var _ wait.Target = (*target)(nil)

func TestStrategiesOnAHandWrittenTarget(t *testing.T) {
	const logs = "booting\nLOG: database system is ready to accept connections\nready, twice: ready\r\n"
	cases := []struct {
		name     string
		strategy wait.Strategy
		target   *target
		fail     string // a fragment of the error; "" when it holds
	}{
		{"a log line", wait.ForLog("database system is ready to accept connections"), &target{logs: logs}, ""},
		{"a line anchored at both ends", wait.ForLog(`^ready, twice: ready$`), &target{logs: logs}, ""},
		{"two lines, one of which matches twice", wait.Strategy{Log: &wait.Log{Pattern: "ready", Times: 3}}.WithDefaults("http"),
			&target{logs: logs}, "2 of 3 matching lines seen"},
		{"a command that comes to exit 0", wait.ForExec("pg_isready"), &target{codes: []int{2, 1, 0}}, ""},
		{"a command that never does", wait.ForExec("pg_isready", "-q"), &target{codes: []int{2}}, "exited 2: pg_isready -q said no"},
		{"a command the deadline cuts short keeps what the last whole try said", wait.ForExec("pg_isready", "-q"),
			&target{codes: []int{2}, hangFrom: 2}, "(last: exited 2: pg_isready -q said no)"},
		{"a port the instance lacks", wait.ForTCP("pg"), &target{}, "no port called pg"},
		{"all of them, in order", wait.ForAll(wait.ForLog("ready"), wait.ForExec("true"), wait.ForHTTP("metrics", "/m")),
			&target{logs: logs, codes: []int{0}}, "no port called metrics"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err := tc.strategy.WithDefaults("http").Wait(ctx, tc.target)
			switch {
			case tc.fail == "" && err != nil:
				t.Errorf("%s: %v", tc.strategy, err)
			case tc.fail != "" && (err == nil || !strings.Contains(err.Error(), tc.fail)):
				t.Errorf("%s = %v, want an error saying %q", tc.strategy, err, tc.fail)
			}
		})
	}
}

func TestWithDefaultsAndString(t *testing.T) {
	s := wait.ForAll(wait.ForHTTP("", "/healthz"), wait.ForTCP(""), wait.ForLog("up"), wait.ForExec("probe", "{{port}}")).WithDefaults("client")
	want := `all of (HTTP 200 on /healthz of port client; port client accepting connections; a line of output matching "up"; command probe {{port}} to exit 0)`
	if s.String() != want {
		t.Errorf("String() = %s\nwant %s", s, want)
	}
}

func TestCheckNamesTheFieldAndTheFix(t *testing.T) {
	cases := []struct {
		strategy wait.Strategy
		want     string
	}{
		{wait.Strategy{}, "ready is empty: set one of http, tcp, log, exec or all"},
		{wait.Strategy{TCP: &wait.TCP{}, Log: &wait.Log{Pattern: "x"}}, "ready sets log and tcp: set exactly one of them"},
		{wait.ForHTTP("admin", "/h"), `ready.http.port "admin" is not a port of the service: use one of client, peer`},
		{wait.ForHTTP("", "h"), `ready.http.path "h" is not a path`},
		{wait.Strategy{HTTP: &wait.HTTP{Path: "/h", Status: 42}}, "ready.http.status 42 is not an HTTP status"},
		{wait.ForLog("("), `ready.log.pattern "(" is not a regular expression`},
		{wait.ForAll(wait.ForTCP("x")), `ready.all[0].tcp.port "x" is not a port of the service`},
		{wait.ForExec(), "ready.exec.command is empty"},
	}
	for _, tc := range cases {
		var got []string
		tc.strategy.Check("ready", []string{"client", "peer"}, func(format string, args ...any) {
			got = append(got, fmt.Sprintf(format, args...))
		})
		if len(got) != 1 || !strings.Contains(got[0], tc.want) {
			t.Errorf("Check(%+v) = %q, want one problem saying %q", tc.strategy, got, tc.want)
		}
	}
}

// TestUntilRetriesAndSaysWhatItLastSaw: Until returns once try succeeds, and when it
// never does, an error naming what was awaited and the last try's error.
func TestUntilRetriesAndSaysWhatItLastSaw(t *testing.T) {
	tries := 0
	if err := wait.Until(t.Context(), 5*time.Second, "three tries", func(context.Context) error {
		if tries++; tries < 3 {
			return errors.New("not yet")
		}
		return nil
	}); err != nil || tries != 3 {
		t.Fatalf("Until: %v after %d tries, want nil after 3", err, tries)
	}
	err := wait.Until(t.Context(), 50*time.Millisecond, "a server that never answers", func(context.Context) error { return errors.New("connection refused") })
	if err == nil || !strings.Contains(err.Error(), "a server that never answers") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Until that never succeeds: %v; want what it waited for and the last error", err)
	}
}
