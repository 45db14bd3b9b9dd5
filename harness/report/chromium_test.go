//go:build linux

package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/report"
)

// chromium finds a headless-capable Chromium: FAULTLINE_CHROMIUM, else the usual names.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FAULTLINE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium binary found (looked for chromium, chromium-browser, google-chrome, headless_shell; " +
		"set FAULTLINE_CHROMIUM to one): install it with `apt-get install -y chromium` to check index.html in a browser")
	return ""
}

// browse opens a page in headless Chromium with name resolution off and every request
// sent to a proxy on a closed port, so nothing can leave the machine. It returns the
// DOM Chromium built, the console messages the page logged, and the URLs of every
// request the browser made for the page (from Chromium's net log).
func browse(t *testing.T, bin, page string, extra ...string) (dom string, console, requests []string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	netlog := filepath.Join(dir, "net.json")
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + filepath.Join(dir, "profile"),
		"--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:" + strconv.Itoa(closed),
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--enable-logging=stderr", "--v=0",
		"--log-net-log=" + netlog, "--dump-dom"}, extra...)
	args = append(args, "file://"+page)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, stderr.String())
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, ":CONSOLE") {
			console = append(console, line)
		}
	}
	return stdout.String(), console, pageRequests(t, netlog, page)
}

// browserHosts are Chromium's own services (updates, time, accounts), which the browser
// calls whatever page it shows; requests to them are not the page's.
var browserHosts = regexp.MustCompile(`^https?://[^/]*\b(google\.com|googleapis\.com|gvt1\.com|gstatic\.com)(:\d+)?/`)

// pageRequests lists the URLs in a Chromium net log other than the page itself and
// the browser's own services.
func pageRequests(t *testing.T, netlog, page string) []string {
	t.Helper()
	b, err := os.ReadFile(netlog)
	if err != nil {
		t.Fatalf("chromium wrote no net log: %v", err)
	}
	var out []string
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`"url":\s*("(?:[^"\\]|\\.)*")`).FindAllSubmatch(b, -1) {
		var u string
		if json.Unmarshal(m[1], &u) != nil || seen[u] {
			continue
		}
		seen[u] = true
		if u == "file://"+page || strings.HasPrefix(u, "file://"+page+"#") || browserHosts.MatchString(u) {
			continue
		}
		out = append(out, u)
	}
	return out
}

func TestHTMLRendersInHeadlessChromiumWithoutTheNetwork(t *testing.T) {
	bin := chromium(t)
	run, hs := sample()
	dir := t.TempDir()
	if err := report.Render(dir, run, hs); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, report.HTMLFile)

	// The check catches a page that reaches out: a control page with one remote image.
	control := filepath.Join(dir, "control.html")
	if err := os.WriteFile(control, []byte(`<!DOCTYPE html><p>control</p><img src="https://example.com/x.png">`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, reqs := browse(t, bin, control); !slices.Contains(reqs, "https://example.com/x.png") {
		t.Fatalf("the net log check misses a remote image: saw %q", reqs)
	}

	dom, console, reqs := browse(t, bin, page)
	if len(console) > 0 {
		t.Errorf("the page logged to the console:\n%s", strings.Join(console, "\n"))
	}
	if len(reqs) > 0 {
		t.Errorf("the page made requests: %q", reqs)
	}
	// Everything rendered with the network gone: the score, both charts with their
	// drawn paths and labels, and the failing check's figure against its bound.
	for _, want := range []string{`id="score">50%</div>`, "Failed: availability", "against bound <strong>≥ 99%</strong>",
		"kill inventory-1", "recovered +1.5s"} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %q", want)
		}
	}
	if n := strings.Count(dom, "<svg"); n != 2 {
		t.Errorf("rendered DOM has %d charts, want 2", n)
	}
	if n := strings.Count(dom, "<path"); n < 50 {
		t.Errorf("rendered charts have %d paths: not drawn", n)
	}

	shot := filepath.Join(dir, "report.png")
	browse(t, bin, page, "--screenshot="+shot, "--window-size=1280,2000", "--hide-scrollbars")
	png, err := os.ReadFile(shot)
	if err != nil || len(png) < 20_000 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot: %v, %d bytes", err, len(png))
	}
	if keep := os.Getenv("FAULTLINE_REPORT_SCREENSHOT"); keep != "" {
		if err := os.WriteFile(keep, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
