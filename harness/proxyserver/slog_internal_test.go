package proxyserver

import (
	"log/slog"
	"strings"
	"testing"
)

// TestToxiproxysErrorsAreWarningsButForTheExpected: a dead upstream is what a kill or a
// parked link is for, and logs at debug level; any other error is a warning.
func TestToxiproxysErrorsAreWarningsButForTheExpected(t *testing.T) {
	var b strings.Builder
	w := slogWriter{slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, line := range []string{
		`{"level":"error","name":"db-1","upstream":"127.0.0.1:9","message":"Unable to open connection to upstream"}`,
		`{"level":"error","name":"db-1","message":"Failed to start proxy"}`,
		`{"level":"info","message":"Started proxy"}`,
	} {
		if _, err := w.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	got := b.String()
	for _, want := range []string{
		`level=DEBUG msg="toxiproxy: Unable to open connection to upstream" name=db-1 upstream=127.0.0.1:9`,
		`level=WARN msg="toxiproxy: Failed to start proxy" name=db-1`,
		`level=DEBUG msg="toxiproxy: Started proxy"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("logs lack %q:\n%s", want, got)
		}
	}
}
