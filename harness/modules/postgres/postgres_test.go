package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/fault"
	"github.com/faultline/faultline/harness/modules/internal/moduletest"
	"github.com/faultline/faultline/harness/modules/postgres"
	"github.com/faultline/faultline/harness/wait"
)

// server brings up a PostgreSQL server from the machine's own programs.
func server(t *testing.T) (*harness.Running, *harness.Instance) {
	t.Helper()
	svc, err := postgres.Service("db")
	return moduletest.Up(t, svc, err, postgres.ErrNotInstalled)
}

// connect opens a connection to the server through its link, within a second.
func connect(ctx context.Context, in *harness.Instance) (*pgx.Conn, error) {
	addr, err := in.Ingress.HostAddr(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return pgx.Connect(ctx, fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable&connect_timeout=1", postgres.User, addr, postgres.Database))
}

// count reads how many rows the table holds, within a second.
func count(ctx context.Context, in *harness.Instance) (int, error) {
	conn, err := connect(ctx, in)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var n int
	err = conn.QueryRow(ctx, "SELECT count(*) FROM acked").Scan(&n)
	return n, err
}

// TestAServerFromTheModuleIsCutByItsLinkAndKeepsWhatItAcked: the module's declaration,
// alone in a system, comes up ready to take SQL through its link; a black hole on the
// link makes a query hang until its deadline and the heal brings it back; killed with
// SIGKILL and restarted by the supervisor, it still holds every row it acknowledged.
func TestAServerFromTheModuleIsCutByItsLinkAndKeepsWhatItAcked(t *testing.T) {
	sys, db := server(t)
	ctx := t.Context()
	conn, err := connect(ctx, db)
	if err != nil {
		t.Fatalf("connect through the link once Up returned: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE TABLE acked (id int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	const rows = 200
	for i := range rows {
		if _, err := conn.Exec(ctx, "INSERT INTO acked VALUES ($1)", i); err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
	}

	sc := fault.ScopeFor(t, sys.History())
	cut, err := sc.Apply(ctx, fault.BlackHole(db.Ingress))
	if err != nil {
		t.Fatal(err)
	}
	// The query hangs in the black hole; its deadlines end it.
	if _, err := count(ctx, db); err == nil {
		t.Fatal("a query through the black-holed link succeeded")
	}
	if err := cut.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := wait.Until(ctx, 10*time.Second, "a count after the heal", func(ctx context.Context) error { _, err := count(ctx, db); return err }); err != nil {
		t.Fatalf("after the heal: %v", err)
	}

	kill, err := sc.Apply(ctx, fault.Kill(db))
	if err != nil {
		t.Fatal(err)
	}
	if err := kill.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := wait.Until(ctx, 30*time.Second, "a count after the restart", func(ctx context.Context) error { var err error; n, err = count(ctx, db); return err }); err != nil {
		t.Fatalf("after a SIGKILL and the restart: %v", err)
	}
	if n != rows {
		t.Errorf("after a SIGKILL and the restart the table holds %d rows, want the %d acknowledged", n, rows)
	}
}

// TestACallerReachesTheServerByTheURLTemplate: postgres.URL in a caller's env becomes
// the caller's own link to the server's pg port.
func TestACallerReachesTheServerByTheURLTemplate(t *testing.T) {
	db, err := postgres.Service("db", postgres.BinDir(t.TempDir()))
	if err == nil {
		t.Fatal("a BinDir without PostgreSQL's programs was accepted")
	}
	db, err = postgres.Service("db", postgres.Image("postgres:16"))
	if err != nil {
		t.Fatal(err)
	}
	app := harness.Service{Name: "app", Source: harness.Source{Binary: "/bin/app"}, Env: map[string]string{"DATABASE_URL": postgres.URL("db")}}
	p, err := harness.System{Name: "s", Services: []harness.Service{db, app}}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := p.Instance("app-1")
	if want := "postgres://postgres@" + harness.LinkRef("app-1.db") + "/postgres?sslmode=disable"; in.Env["DATABASE_URL"] != want {
		t.Errorf("DATABASE_URL = %q, want %q", in.Env["DATABASE_URL"], want)
	}
	if l, ok := p.Link("app-1.db"); !ok || l.To != "db-1" || l.Port != postgres.Port {
		t.Errorf("link app-1.db = %+v (%v), want one to db-1's %s", l, ok, postgres.Port)
	}
}
