package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/runtime/local"
)

func TestUpTellsAComposeFileFromASystemFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	compose := write("compose.yaml", "name: shop\nservices:\n  db:\n    image: postgres:16\n    expose: [\"5432\"]\n")
	system := write("system.yaml", "name: shop\nservices:\n  - name: db\n    source: {image: postgres:16}\n    port: 5432\n")
	broken := write("broken.yaml", "name: shop\nservices:\n  db:\n    image: postgres:16\n    expose: [\"5432\"]\n    volumes: [\"./d:/d\"]\n")
	ctx := context.Background()
	if sys, err := loadSystem(ctx, compose); err != nil || len(sys.Services) != 1 || !sys.Services[0].ByName {
		t.Errorf("compose file: %+v, %v: want it read as compose (by-name services)", sys, err)
	}
	if sys, err := loadSystem(ctx, system); err != nil || len(sys.Services) != 1 || sys.Services[0].ByName {
		t.Errorf("system file: %+v, %v: want it read as faultline's own format", sys, err)
	}
	if _, err := loadSystem(ctx, broken); err == nil || !strings.Contains(err.Error(), "services.db.volumes") {
		t.Errorf("compose file with a volume: %v: want the compose loader's error naming the key", err)
	}
	if _, err := loadSystem(ctx, filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "-f ") {
		t.Errorf("missing file: %v: want an error naming -f", err)
	}
}

func TestUpListsWhereEveryPortOfEveryInstanceIsReached(t *testing.T) {
	rt, err := local.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys := harness.System{Name: "listed", Services: []harness.Service{{
		Name: "node", Replicas: 2, Source: harness.Source{Package: "github.com/faultline/faultline/harness/runtime/conformance/testsvc"},
		Ports: harness.Ports{{Name: "api", Port: 8080}, {Name: "admin", Port: 9002}},
		Env:   map[string]string{"LISTEN_MORE": "{{listen:admin}}"},
	}}}
	r, err := harness.Up(ctx, sys, harness.WithRuntime(rt))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Down(context.Background()) })
	var out bytes.Buffer
	if err := describe(ctx, &out, r); err != nil {
		t.Fatal(err)
	}
	t.Logf("faultline up -f lists:\n%s", &out)
	for _, inst := range []string{"node-1", "node-2"} {
		for _, port := range []string{"api", "admin"} {
			m := regexp.MustCompile(`(?m)^\s+` + inst + `\s+` + port + `\s+(127\.0\.0\.1:\d+)\s`).FindStringSubmatch(out.String())
			if m == nil {
				t.Errorf("no line for %s %s in:\n%s", inst, port, &out)
				continue
			}
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + m[1] + "/healthz")
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("%s %s at %s: %v %v: want its health through the listed address", inst, port, m[1], resp, err)
			}
			if resp != nil {
				resp.Body.Close()
			}
		}
	}
}
