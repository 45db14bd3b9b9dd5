package harness_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/modules/redis"
	"github.com/faultline/faultline/harness/reference"
	"github.com/faultline/faultline/harness/wait"
)

// TestPlanWiresTheDeclarationWithoutStartingIt reads the plans of a few declarations:
// what starts together, what each instance is handed, and every link with where it
// points. Nothing is started: a plan is a function of the declaration.
func TestPlanWiresTheDeclarationWithoutStartingIt(t *testing.T) {
	bin := harness.Source{Binary: "/bin/app"}
	link := harness.LinkRef
	cases := []struct {
		name   string
		sys    harness.System
		stages [][]string
		after  map[string][]string          // instance → what it waits for (listed ones only)
		env    map[string]map[string]string // instance → its whole environment (listed ones only)
		links  []harness.LinkPlan           // every link, in order
		slots  int
	}{
		{
			name: "the reference system",
			sys:  reference.System(),
			stages: [][]string{
				{"registry-1", "accounts-db", "inventory-db", "orders-db"},
				{"accounts-1", "accounts-2", "inventory-1", "inventory-2", "orders-1", "gateway-1"},
			},
			after: map[string][]string{
				"registry-1":  nil,
				"accounts-db": nil,
				"accounts-2":  {"registry-1", "accounts-db"},
				"gateway-1":   {"registry-1"},
			},
			env: map[string]map[string]string{
				"registry-1": {"DATA_DIR": "{{datadir}}", "LISTEN_ADDR": "{{listen}}"},
				"accounts-1": {
					"LISTEN_ADDR": "{{listen}}", "ADVERTISE_ADDR": link("accounts-1"), "INSTANCE_ID": "accounts-1",
					"REGISTRY_ADDR": link("accounts-1.registry"), "ETCD_ENDPOINTS": link("accounts-db"),
				},
				"accounts-db": {},
				"gateway-1": {
					"LISTEN_ADDR": "{{listen}}", "REGISTRY_ADDR": link("gateway-1.registry"),
					"GATEWAY_API_KEYS": "demo-key,other-key,tier-key:50:50",
				},
			},
			links: []harness.LinkPlan{
				{Name: "registry-1", To: "registry-1", Port: "http"},
				{Name: "accounts-db", To: "accounts-db", Port: "client"},
				{Name: "accounts-1", To: "accounts-1", Port: "http", Parked: true},
				{Name: "accounts-1.registry", To: "registry-1", Port: "http"},
				{Name: "accounts-2", To: "accounts-2", Port: "http", Parked: true},
				{Name: "accounts-2.registry", To: "registry-1", Port: "http"},
				{Name: "inventory-db", To: "inventory-db", Port: "client"},
				{Name: "inventory-1", To: "inventory-1", Port: "http", Parked: true},
				{Name: "inventory-1.registry", To: "registry-1", Port: "http"},
				{Name: "inventory-2", To: "inventory-2", Port: "http", Parked: true},
				{Name: "inventory-2.registry", To: "registry-1", Port: "http"},
				{Name: "orders-db", To: "orders-db", Port: "client"},
				{Name: "orders-1", To: "orders-1", Port: "http", Parked: true},
				{Name: "orders-1.registry", To: "registry-1", Port: "http"},
				{Name: "gateway-1", To: "gateway-1", Port: "http"},
				{Name: "gateway-1.registry", To: "registry-1", Port: "http"},
			},
			// 16 links, 2 spare instances of registry (1 link each), of three business
			// services (2 each) and of the gateway (2), and 4 more.
			slots: 16 + 2*1 + 3*2*2 + 2*2 + 4,
		},
		{
			name: "a cluster's peers start together, each handed its own link to every other",
			sys: harness.System{Name: "c", Services: []harness.Service{{
				Name: "node", Source: bin, Replicas: 3, Cluster: &harness.Cluster{}, AdvertiseEnv: "-", IDEnv: "NAME",
			}}},
			stages: [][]string{{"node-1", "node-2", "node-3"}},
			env: map[string]map[string]string{
				"node-1": {"LISTEN_ADDR": "{{listen}}", "NAME": "node-1",
					"PEERS": "node-2=" + link("node-1.node-2") + ",node-3=" + link("node-1.node-3")},
			},
			links: []harness.LinkPlan{
				{Name: "node-1", To: "node-1", Port: "http"},
				{Name: "node-1.node-2", To: "node-2", Port: "http", Parked: true},
				{Name: "node-1.node-3", To: "node-3", Port: "http", Parked: true},
				{Name: "node-2", To: "node-2", Port: "http"},
				{Name: "node-2.node-1", To: "node-1", Port: "http", Parked: true},
				{Name: "node-2.node-3", To: "node-3", Port: "http", Parked: true},
				{Name: "node-3", To: "node-3", Port: "http"},
				{Name: "node-3.node-1", To: "node-1", Port: "http", Parked: true},
				{Name: "node-3.node-2", To: "node-2", Port: "http", Parked: true},
			},
			slots: 9 + 4, // a cluster gets no room for AddInstance, which it refuses
		},
		{
			name: "a dependency waits for every replica of what it depends on, and reaches the first",
			sys: harness.System{Name: "d", Services: []harness.Service{
				{Name: "front", Source: bin, DependsOn: []harness.Dependency{{Service: "back", Env: "BACK_ADDR"}},
					Env: map[string]string{"MODE": "fast"}, ListenEnv: "-", AdvertiseEnv: "-", IDEnv: "-"},
				{Name: "back", Source: bin, Replicas: 2, Port: 9000, AdvertiseEnv: "-", IDEnv: "-"},
				{Name: "lone", Source: bin, AdvertiseEnv: "-", IDEnv: "-"},
			}},
			stages: [][]string{{"back-1", "back-2", "lone-1"}, {"front-1"}},
			after:  map[string][]string{"front-1": {"back-1", "back-2"}},
			env: map[string]map[string]string{
				"front-1": {"MODE": "fast", "BACK_ADDR": link("front-1.back")},
			},
			links: []harness.LinkPlan{
				{Name: "back-1", To: "back-1", Port: "http"},
				{Name: "back-2", To: "back-2", Port: "http"},
				{Name: "front-1", To: "front-1", Port: "http"},
				{Name: "front-1.back", To: "back-1", Port: "http"},
				{Name: "lone-1", To: "lone-1", Port: "http"},
			},
			slots: 5 + 2*2 + 2*1 + 2*1 + 4,
		},
		{
			name: "named ports: a link per port of each instance, and per ordered pair of peers per peer port",
			sys: harness.System{Name: "e", Services: []harness.Service{{
				Name: "etcd", Source: bin, Replicas: 2, Ports: harness.Ports{{Name: "client", Port: 2379}, {Name: "peer", Port: 2380}},
				Cluster: &harness.Cluster{Ports: []string{"peer"}, PeersEnv: "PEERS"}, AdvertiseEnv: "-", IDEnv: "-", ListenEnv: "-",
				Args: []string{"--listen-client-urls=http://{{listen:client}}", "--listen-peer-urls=http://{{listen:peer}}"},
				Env:  map[string]string{"ADVERTISE": "{{netaddr:client}}"},
			}}},
			stages: [][]string{{"etcd-1", "etcd-2"}},
			env: map[string]map[string]string{
				// The main port's placeholders are the runtime's own; the others stay named.
				"etcd-1": {"ADVERTISE": "{{netaddr}}", "PEERS": "etcd-2=" + link("etcd-1.etcd-2_peer")},
			},
			links: []harness.LinkPlan{
				{Name: "etcd-1", To: "etcd-1", Port: "client"},
				{Name: "etcd-1_peer", To: "etcd-1", Port: "peer"},
				{Name: "etcd-1.etcd-2_peer", To: "etcd-2", Port: "peer", Parked: true},
				{Name: "etcd-2", To: "etcd-2", Port: "client"},
				{Name: "etcd-2_peer", To: "etcd-2", Port: "peer"},
				{Name: "etcd-2.etcd-1_peer", To: "etcd-1", Port: "peer", Parked: true},
			},
			slots: 6 + 4,
		},
		{
			name: "a dependency on a named port reaches that port, and port keeps its name http beside ports",
			sys: harness.System{Name: "d", Services: []harness.Service{
				{Name: "app", Source: bin, DependsOn: []harness.Dependency{{Service: "db", Env: "DB", Port: "admin"}, {Service: "db", Env: "DB_MAIN"}},
					AdvertiseEnv: "-", IDEnv: "-", ListenEnv: "-"},
				{Name: "db", Source: bin, Port: 8080, Ports: harness.Ports{{Name: "admin", Port: 9000}}, AdvertiseEnv: "-", IDEnv: "-", ListenEnv: "-"},
			}},
			stages: [][]string{{"db-1"}, {"app-1"}},
			env: map[string]map[string]string{
				"app-1": {"DB": link("app-1.db_admin"), "DB_MAIN": link("app-1.db")},
			},
			links: []harness.LinkPlan{
				{Name: "db-1", To: "db-1", Port: "http"},
				{Name: "db-1_admin", To: "db-1", Port: "admin"},
				{Name: "app-1", To: "app-1", Port: "http"},
				{Name: "app-1.db_admin", To: "db-1", Port: "admin"},
				{Name: "app-1.db", To: "db-1", Port: "http"},
			},
			slots: 5 + 2*3 + 2*2 + 4,
		},
		{
			name: "templates see the instance, its ports, any service's address and the cluster's peers, each address a link's",
			sys: harness.System{Name: "t", Services: []harness.Service{
				{Name: "db", Source: bin, Ports: harness.Ports{{Name: "pg", Port: 5432}, {Name: "admin", Port: 8008}}, AdvertiseEnv: "-", IDEnv: "-", ListenEnv: "-"},
				{Name: "cache", Source: bin, Port: 6379, ByName: true, AdvertiseEnv: "-", IDEnv: "-", ListenEnv: "-"},
				{
					Name: "kv", Source: bin, Replicas: 3, Ports: harness.Ports{{Name: "client", Port: 2379}, {Name: "peer", Port: 2380}},
					Cluster: &harness.Cluster{Ports: []string{"peer"}, PeersEnv: "-"}, AdvertiseEnv: "-", IDEnv: "-", ListenEnv: "-",
					DependsOn: []harness.Dependency{{Service: "db", Env: "DB_ADDR", Port: "pg"}},
					Args: []string{
						"--name={{.Name}}", "--listen-peer-urls=http://{{listen \"peer\"}}", "--listen={{listen}}",
						`--join={{peers "peer" | addrs | join ","}}`,
						`--initial-cluster={{range $i, $p := peers}}{{if $i}},{{end}}{{$p.Name}}=http://{{$p.Addr}}{{end}}`,
						"--advertise-peer={{advertise \"peer\"}}", "--legacy={{listen:peer}}", "--data={{datadir}}/{{.Service}}-{{.Index}}-of-{{.Replicas}}",
					},
					Env: map[string]string{
						"DATABASE_URL": `postgres://app@{{addr "db" "pg"}}/app`,
						"ADMIN":        `http://{{addr "db" "admin"}}/`,
						"CACHE":        `{{addr "cache"}}`,
						"LITERAL":      `{{"{{"}}not a template}}`,
					},
				},
			}},
			stages: [][]string{{"db-1", "cache-1"}, {"kv-1", "kv-2", "kv-3"}},
			env: map[string]map[string]string{
				"kv-2": {
					"DB_ADDR":      link("kv-2.db"),
					"DATABASE_URL": "postgres://app@" + link("kv-2.db") + "/app", // the dependency's own link, not a second one
					"ADMIN":        "http://" + link("kv-2.db_admin") + "/",
					"CACHE":        "cache:6379", // a by-name service is reached at its name
					"LITERAL":      "{{not a template}}",
				},
			},
			links: []harness.LinkPlan{
				// db's main port is pg (its first): its links carry no port suffix.
				{Name: "db-1", To: "db-1", Port: "pg"},
				{Name: "db-1_admin", To: "db-1", Port: "admin"},
				{Name: "cache-1", To: "cache-1", Port: "http", Alias: "cache"},
				{Name: "kv-1", To: "kv-1", Port: "client"},
				// Parked: the instance advertises its own peer port ({{advertise "peer"}}) before it is placed.
				{Name: "kv-1_peer", To: "kv-1", Port: "peer", Parked: true},
				{Name: "kv-1.kv-2_peer", To: "kv-2", Port: "peer", Parked: true},
				{Name: "kv-1.kv-3_peer", To: "kv-3", Port: "peer", Parked: true},
				{Name: "kv-1.db_admin", To: "db-1", Port: "admin"},
				{Name: "kv-1.db", To: "db-1", Port: "pg"},
				{Name: "kv-2", To: "kv-2", Port: "client"},
				// Parked: the instance advertises its own peer port ({{advertise "peer"}}) before it is placed.
				{Name: "kv-2_peer", To: "kv-2", Port: "peer", Parked: true},
				{Name: "kv-2.kv-1_peer", To: "kv-1", Port: "peer", Parked: true},
				{Name: "kv-2.kv-3_peer", To: "kv-3", Port: "peer", Parked: true},
				{Name: "kv-2.db_admin", To: "db-1", Port: "admin"},
				{Name: "kv-2.db", To: "db-1", Port: "pg"},
				{Name: "kv-3", To: "kv-3", Port: "client"},
				// Parked: the instance advertises its own peer port ({{advertise "peer"}}) before it is placed.
				{Name: "kv-3_peer", To: "kv-3", Port: "peer", Parked: true},
				{Name: "kv-3.kv-1_peer", To: "kv-1", Port: "peer", Parked: true},
				{Name: "kv-3.kv-2_peer", To: "kv-2", Port: "peer", Parked: true},
				{Name: "kv-3.db_admin", To: "db-1", Port: "admin"},
				{Name: "kv-3.db", To: "db-1", Port: "pg"},
			},
			slots: 21 + 2*2 + 2*1 + 4, // db and cache have room for 2 more each; kv, a cluster, none
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.sys.Plan()
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Stages(); !reflect.DeepEqual(got, tc.stages) {
				t.Errorf("stages = %v, want %v", got, tc.stages)
			}
			for name, want := range tc.after {
				in, ok := p.Instance(name)
				if !ok {
					t.Fatalf("no start %s in the plan:\n%s", name, p)
				}
				if !slices.Equal(in.After, want) {
					t.Errorf("%s waits for %v, want %v", name, in.After, want)
				}
			}
			for name, want := range tc.env {
				in, ok := p.Instance(name)
				if !ok {
					t.Fatalf("no start %s in the plan:\n%s", name, p)
				}
				if !reflect.DeepEqual(in.Env, want) {
					t.Errorf("%s's environment = %v, want %v", name, in.Env, want)
				}
			}
			if !reflect.DeepEqual(p.Links, tc.links) {
				t.Errorf("links:\n got %v\nwant %v", p.Links, tc.links)
			}
			if p.Slots != tc.slots {
				t.Errorf("slots = %d, want %d", p.Slots, tc.slots)
			}
			// Every link an instance is handed is a planned link, and made before it starts.
			for _, in := range p.Instances {
				for _, name := range in.Links {
					if _, ok := p.Link(name); !ok {
						t.Errorf("%s is handed link %s, which the plan does not have", in.Name, name)
					}
				}
			}
			again, _ := tc.sys.Plan()
			if !reflect.DeepEqual(p, again) {
				t.Error("two plans of one declaration differ")
			}
		})
	}
}

// TestPlanOfTheReferenceSystemSaysHowEachInstanceIsReady: a business instance is ready
// once its health answers, first directly (the runtime waits) and then through its own
// ingress link, within the bring-up's timeout; a database, declared by the etcd module,
// once its health answers through its link, with a minute to come up.
func TestPlanOfTheReferenceSystemSaysHowEachInstanceIsReady(t *testing.T) {
	p, err := reference.System().Plan()
	if err != nil {
		t.Fatal(err)
	}
	acc, _ := p.Instance("accounts-1")
	want200 := wait.Strategy{HTTP: &wait.HTTP{Port: "http", Path: "/healthz", Status: 200}}
	if acc.Ready == nil || !reflect.DeepEqual(*acc.Ready, want200) || acc.Health != "/healthz" || acc.StartTimeout != 0 {
		t.Errorf("accounts-1 is ready by %v after the runtime's health %q within %s, want %v after /healthz within the bring-up's timeout",
			acc.Ready, acc.Health, acc.StartTimeout, want200)
	}
	if acc.Ingress != "accounts-1" || acc.DependencyLinks["registry"] != "accounts-1.registry" || !reflect.DeepEqual(acc.Ports, []harness.NamedPort{{Name: "http", Port: 8080}}) || acc.Restart != "on-failure" {
		t.Errorf("accounts-1 = %+v", acc)
	}
	if want := []string{"accounts-1", "accounts-db", "accounts-1.registry"}; !slices.Equal(acc.Links, want) {
		t.Errorf("accounts-1 is handed %v, want %v", acc.Links, want)
	}
	db, _ := p.Instance("accounts-db")
	wantHealth := wait.Strategy{HTTP: &wait.HTTP{Port: "client", Path: "/health", Status: 200}}
	if db.DatabaseOf != "accounts" || db.Service != "accounts-db" || !reflect.DeepEqual(db.Ports, []harness.NamedPort{{Name: "client", Port: 2379}}) ||
		db.StartTimeout != time.Minute || db.Ready == nil || !reflect.DeepEqual(*db.Ready, wantHealth) || !slices.Contains(db.Args, "--name") ||
		db.Args[slices.Index(db.Args, "--name")+1] != "accounts-db" {
		t.Errorf("accounts-db = %+v", db)
	}
	var names []string
	for _, in := range p.Instances {
		names = append(names, in.Name)
	}
	want := []string{"registry-1", "accounts-db", "accounts-1", "accounts-2", "inventory-db", "inventory-1", "inventory-2",
		"orders-db", "orders-1", "gateway-1"}
	if !slices.Equal(names, want) {
		t.Errorf("starts in order %v, want %v", names, want)
	}
	for _, line := range []string{"wave 1:", "accounts-1 after registry-1, accounts-db", "accounts-1 → accounts-1 http (parked until accounts-1 is placed)",
		"accounts-1.registry → registry-1 http (made once registry-1 is placed)"} {
		if !strings.Contains(p.String(), line) {
			t.Errorf("the plan as text lacks %q:\n%s", line, p)
		}
	}
}

// TestPlanLeavesTheDeclarationAlone: planning copies what it hands each instance, so
// that a declaration reused (as reference.System's options do) is never changed.
func TestPlanLeavesTheDeclarationAlone(t *testing.T) {
	sys := harness.System{Name: "s", Services: []harness.Service{{Name: "a", Source: harness.Source{Binary: "/bin/a"},
		Env: map[string]string{"K": "v"}, Args: []string{"-x"}}}}
	p, err := sys.Plan()
	if err != nil {
		t.Fatal(err)
	}
	p.Instances[0].Env["K"] = "changed"
	p.Instances[0].Args[0] = "changed"
	if sys.Services[0].Env["K"] != "v" || sys.Services[0].Args[0] != "-x" || len(sys.Services[0].Env) != 1 {
		t.Errorf("planning changed the declaration: %+v", sys.Services[0])
	}
}

// TestPlanOfABadDeclarationIsItsOneError: a plan is only made of a valid declaration.
func TestPlanOfABadDeclarationIsItsOneError(t *testing.T) {
	_, err := harness.System{Services: []harness.Service{{Name: "a"}}}.Plan()
	oneProblem(t, err, `service "a"`, "source is empty", "set one of source.package")
}

// TestPlanRefusesALinkReferenceToNoLink: a {{link:…}} in a declaration's env or args
// must name a link of the system, or it would be made pointing nowhere.
func TestPlanRefusesALinkReferenceToNoLink(t *testing.T) {
	_, err := harness.System{Name: "s", Services: []harness.Service{{Name: "a", Source: harness.Source{Binary: "/bin/a"},
		Env: map[string]string{"PEER": harness.LinkRef("a-1.b")}}}}.Plan()
	oneProblem(t, err, `service "a"`, "env PEER holds {{link:a-1.b}}", "a link the system does not have", "{{link:a-1}}", "drop it")
	_, err = harness.System{Name: "s", Services: []harness.Service{{Name: "a", Source: harness.Source{Binary: "/bin/a"},
		Args: []string{"--self=" + harness.LinkRef("a-1")}}}}.Plan()
	if err != nil {
		t.Errorf("a reference to a planned link was refused: %v", err)
	}
}

// TestTemplatesExpandEveryArgument reads one instance's expanded arguments: its name, its
// placeholders (the function and the colon forms alike), its own advertised address and
// its peers in the two forms a program may want.
func TestTemplatesExpandEveryArgument(t *testing.T) {
	link := harness.LinkRef
	sys := harness.System{Name: "t", Services: []harness.Service{{
		Name: "kv", Source: harness.Source{Binary: "/bin/kv"}, Replicas: 3,
		Ports:   harness.Ports{{Name: "client", Port: 2379}, {Name: "peer", Port: 2380}},
		Cluster: &harness.Cluster{Ports: []string{"peer"}, PeersEnv: "-"}, AdvertiseEnv: "-", IDEnv: "-", ListenEnv: "-",
		Args: []string{
			"--name={{.Name}}", `--listen-peer={{listen "peer"}}`, "--listen-client={{listen}}", "--legacy={{listen:peer}}",
			`--join={{peers "peer" | addrs | join ","}}`,
			`--initial-cluster={{range $i, $p := peers}}{{if $i}},{{end}}{{$p.Name}}=http://{{$p.Addr}}{{end}}`,
			`--advertise-peer={{advertise "peer"}}`, "--data={{datadir}}/{{.Service}}-{{.Index}}-of-{{.Replicas}}",
			"--plain",
		},
	}}}
	p, err := sys.Plan()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := p.Instance("kv-2")
	want := []string{
		"--name=kv-2", "--listen-peer={{listen:peer}}", "--listen-client={{listen}}", "--legacy={{listen:peer}}",
		"--join=" + link("kv-2.kv-1_peer") + "," + link("kv-2.kv-3_peer"),
		"--initial-cluster=kv-1=http://" + link("kv-2.kv-1_peer") + ",kv-3=http://" + link("kv-2.kv-3_peer"),
		"--advertise-peer=" + link("kv-2_peer"), "--data={{datadir}}/kv-2-of-3",
		"--plain",
	}
	if !slices.Equal(in.Args, want) {
		t.Errorf("kv-2's arguments:\n got %q\nwant %q", in.Args, want)
	}
	if _, ok := in.Env["-"]; ok || len(in.Env) != 0 {
		t.Errorf("kv-2's environment %v: want none (every variable is \"-\")", in.Env)
	}
}

// TestABadTemplateIsOneErrorNamingTheFieldAndTheFix: each mistake a template can hold
// comes back, from Validate as from Plan, as one error naming the service, the field and
// what to write instead.
func TestABadTemplateIsOneErrorNamingTheFieldAndTheFix(t *testing.T) {
	bin := harness.Source{Binary: "/bin/app"}
	sys := func(env string) harness.System {
		return harness.System{Name: "t", Services: []harness.Service{
			{Name: "db", Source: bin, Ports: harness.Ports{{Name: "pg", Port: 5432}}, AdvertiseEnv: "-", IDEnv: "-", ListenEnv: "-"},
			{Name: "app", Source: bin, Ports: harness.Ports{{Name: "api", Port: 8080}}, AdvertiseEnv: "-", IDEnv: "-", ListenEnv: "-",
				Env: map[string]string{"X": env}},
		}}
	}
	cases := []struct {
		name, env string
		want      []string
	}{
		{"a port the service lacks", `{{listen "admin"}}`, []string{`service "app"`, "env X", `port "admin" is not a port of service "app"`, "use one of api"}},
		{"a port the other service lacks", `{{addr "db" "admin"}}`, []string{`service "app"`, "env X", `port "admin" is not a port of service "db"`, "use one of pg"}},
		{"a service the system lacks", `{{addr "cache"}}`, []string{`service "app"`, "env X", `no service "cache"`, "use one of app, db"}},
		{"its own service", `{{addr "app"}}`, []string{`service "app"`, "{{advertise}}"}},
		{"peers outside a cluster", `{{peers}}`, []string{`service "app"`, "is no cluster", "cluster:"}},
		{"a field dot has not", `{{.Nmae}}`, []string{`service "app"`, "env X", "Nmae"}},
		{"a syntax error", `{{addr "db"`, []string{`service "app"`, "env X", `{{"{{"}}`}},
		{"a link the system lacks", `{{link "app-1.nowhere"}}`, []string{`service "app"`, "env X holds {{link:app-1.nowhere}}", "a link the system does not have"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			oneProblem(t, sys(tc.env).Validate(), tc.want...)
			_, err := sys(tc.env).Plan()
			oneProblem(t, err, tc.want...)
		})
	}
}

// TestPlanOfAByNameClusterNamesEveryMemberAlike reads the plan of an etcd-shaped
// by-name cluster: every member is given the same membership string, and each routes
// every member's name to a link of its own (its own name to its own ingress), all made
// before it starts.
func TestPlanOfAByNameClusterNamesEveryMemberAlike(t *testing.T) {
	sys := harness.System{Name: "kv", Services: []harness.Service{{
		Name: "etcd", Source: harness.Source{Binary: "/bin/etcd"}, Replicas: 3,
		Ports:   harness.Ports{{Name: "client", Port: 2379}, {Name: "peer", Port: 2380}},
		Cluster: &harness.Cluster{Ports: []string{"peer"}, PeersEnv: "-", ByName: true},
		Args: []string{
			"--initial-cluster", `{{members "peer" | each "%s=http://%s" | join ","}}`,
			"--initial-advertise-peer-urls", `http://{{advertise "peer"}}`,
			"--advertise-client-urls", `http://{{advertise "client"}}`,
		},
		AdvertiseEnv: "-", IDEnv: "-", ListenEnv: "-",
	}}}
	plan, err := sys.Plan()
	if err != nil {
		t.Fatal(err)
	}
	membership := "etcd-1=http://etcd-1:2380,etcd-2=http://etcd-2:2380,etcd-3=http://etcd-3:2380"
	for n := 1; n <= 3; n++ {
		name := "etcd-" + string(rune('0'+n))
		in, ok := plan.Instance(name)
		if !ok {
			t.Fatalf("no %s in the plan:\n%s", name, plan)
		}
		want := []string{
			"--initial-cluster", membership,
			"--initial-advertise-peer-urls", "http://" + name + ":2380",
			"--advertise-client-urls", "http://" + harness.LinkRef(name), // the main port's link
		}
		if !slices.Equal(in.Args, want) {
			t.Errorf("%s args\n got %q\nwant %q", name, in.Args, want)
		}
		routes := map[string]string{}
		for k := 1; k <= 3; k++ {
			other := "etcd-" + string(rune('0'+k))
			routes[other+":2380"] = name + "." + other + "_peer"
			if k == n {
				routes[other+":2380"] = name + "_peer"
			}
		}
		if !reflect.DeepEqual(in.Routes, routes) || in.ProxyEnv != "HTTP_PROXY" {
			t.Errorf("%s routes %v through %q, want %v through HTTP_PROXY", name, in.Routes, in.ProxyEnv, routes)
		}
		for _, l := range routes {
			if !slices.Contains(in.Links, l) {
				t.Errorf("%s is not handed %s before it starts (links %v)", name, l, in.Links)
			}
			if lp, ok := plan.Link(l); !ok || !lp.Parked {
				t.Errorf("link %s: %+v, want it in the plan and parked (the members start together)", l, lp)
			}
		}
		if len(in.After) != 0 {
			t.Errorf("%s waits for %v: a cluster's members start together", name, in.After)
		}
	}
}

// TestABadByNameClusterIsOneErrorNamingTheFieldAndTheFix covers what a by-name cluster
// can get wrong.
func TestABadByNameClusterIsOneErrorNamingTheFieldAndTheFix(t *testing.T) {
	node := func(c harness.Cluster, env map[string]string, args ...string) harness.System {
		return harness.System{Name: "t", Services: []harness.Service{{
			Name: "kv", Source: harness.Source{Binary: "/bin/kv"}, Replicas: 3, Port: 7000,
			Cluster: &c, Env: env, Args: args, AdvertiseEnv: "-", IDEnv: "-", ListenEnv: "-",
		}}}
	}
	for _, tc := range []struct {
		name string
		sys  harness.System
		want []string
	}{
		{"a proxy variable without by_name", node(harness.Cluster{ProxyEnv: "ALL_PROXY"}, nil),
			[]string{`service "kv"`, `cluster.proxy_env "ALL_PROXY"`, "set by_name: true, or drop proxy_env"}},
		{"env that the peer proxy needs", node(harness.Cluster{ByName: true}, map[string]string{"HTTP_PROXY": "http://corp:3128"}),
			[]string{`service "kv"`, "env HTTP_PROXY is set", "proxy_env"}},
		{"a format without verbs", node(harness.Cluster{ByName: true}, nil, `{{members | each "peer" | join ","}}`),
			[]string{`service "kv"`, "args[0]", `each "peer"`, "one or two verbs"}},
		{"a format of the wrong kind", node(harness.Cluster{ByName: true}, nil, `{{members | each "%s=%d" | join ","}}`),
			[]string{`service "kv"`, "args[0]", `each "%s=%d"`, "use %s"}},
		{"members outside a cluster", harness.System{Name: "t", Services: []harness.Service{{
			Name: "kv", Source: harness.Source{Binary: "/bin/kv"}, Port: 7000, Args: []string{"{{members}}"}}}},
			[]string{`service "kv"`, "members:", "is no cluster"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.sys.Plan()
			oneProblem(t, err, tc.want...)
		})
	}
}

// TestAModuleServerIsAServicesDatabaseAsItComes: a user hands a module's declaration
// (Redis here) to Database as it comes, name and all: the harness runs it as app-db,
// with the module's readiness, and hands every replica the one link to it.
func TestAModuleServerIsAServicesDatabaseAsItComes(t *testing.T) {
	cache, err := redis.Service("cache", redis.Image("redis:7"))
	if err != nil {
		t.Fatal(err)
	}
	sys := harness.System{Name: "shop", Services: []harness.Service{{Name: "app", Source: harness.Source{Binary: "/bin/app"},
		Replicas: 2, Database: &harness.Database{Env: "REDIS_ADDR", Server: cache}}}}
	p, err := sys.Plan()
	if err != nil {
		t.Fatal(err)
	}
	db, ok := p.Instance("app-db")
	if !ok || db.DatabaseOf != "app" || db.Ready == nil || db.Ready.Exec == nil || db.Source.Image != "redis:7" {
		t.Fatalf("app-db = %+v (planned: %v)", db, ok)
	}
	for _, name := range []string{"app-1", "app-2"} {
		in, _ := p.Instance(name)
		if in.Env["REDIS_ADDR"] != harness.LinkRef("app-db") || !slices.Contains(in.After, "app-db") {
			t.Errorf("%s gets REDIS_ADDR %q after %v, want the link app-db after app-db", name, in.Env["REDIS_ADDR"], in.After)
		}
	}
}
