package kubernetes_test

import (
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/kubernetes"
)

// Every spec the runtime cannot run is refused before anything is created, naming the
// field and the fix; what it can run passes. No cluster is needed.
func TestSupportsNamesTheFieldAndTheFix(t *testing.T) {
	withImport := kubernetes.NewForTest("t1", kubernetes.WithImageImport("ctr", "images", "import", "-"))
	noImport := kubernetes.NewForTest("t2", kubernetes.WithImageImport())
	bin := runtime.Artifact{Binary: "/bin/svc"}
	img := runtime.Artifact{Image: "registry.example.com/svc:1"}
	for _, tc := range []struct {
		name string
		rt   *kubernetes.Runtime
		spec runtime.Spec
		want string // "" passes
	}{
		{"binary with an import command", withImport, runtime.Spec{Name: "svc-1", Artifact: bin, Port: 8080}, ""},
		{"image", noImport, runtime.Spec{Name: "svc-1", Artifact: img, Port: 8080, User: "999:999"}, ""},
		{"plan time: no artifact, no port yet", noImport, runtime.Spec{Name: "svc-1"}, ""},
		{"upper-case name", withImport, runtime.Spec{Name: "Svc-1", Artifact: bin}, "Spec.Name"},
		{"the proxy's name", withImport, runtime.Spec{Name: "toxiproxy", Artifact: bin}, "Toxiproxy"},
		{"dockerfile", withImport, runtime.Spec{Name: "svc-1", Artifact: runtime.Artifact{Dockerfile: "."}}, "Spec.Artifact.Dockerfile"},
		{"binary without an import command", noImport, runtime.Spec{Name: "svc-1", Artifact: bin}, kubernetes.ImportEnv},
		{"user by name", withImport, runtime.Spec{Name: "svc-1", Artifact: bin, User: "postgres"}, "numeric uid"},
		{"stop signal on a user's image", noImport, runtime.Spec{Name: "svc-1", Artifact: img, StopSignal: "SIGQUIT"}, "STOPSIGNAL"},
		{"unknown stop signal", withImport, runtime.Spec{Name: "svc-1", Artifact: bin, StopSignal: "SIGFOO"}, "use one of"},
		{"port used twice", withImport, runtime.Spec{Name: "svc-1", Artifact: bin, Port: 8080,
			Ports: []runtime.NamedPort{{Name: "peer", Port: 8080}}}, "number of its own"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.rt.Supports(tc.spec)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Supports = %v, want it to pass", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Supports = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// The pod runs the spec as declared: placeholders point at the pod's own port, its data
// volume and its Service's ClusterIP; the startup probe checks the health path for as
// long as the start timeout.
func TestStatefulSetCarriesTheSpec(t *testing.T) {
	r := kubernetes.NewForTest("t3", kubernetes.WithStorageClass("fast"))
	spec := runtime.Spec{
		Name: "accounts-1", Service: "accounts", Artifact: runtime.Artifact{Binary: "/bin/accounts"},
		Args:         []string{"-listen", runtime.PlaceholderListen, "-peer", runtime.NetAddrPlaceholder("peer")},
		Env:          map[string]string{"ADVERTISE": runtime.PlaceholderNetAddr, "DATA": runtime.PlaceholderDataDir},
		Port:         8080,
		Ports:        []runtime.NamedPort{{Name: "peer", Port: 9001}},
		Health:       "/healthz",
		StartTimeout: 20 * time.Second,
		User:         "65534:65534",
	}
	sts := r.StatefulSetForTest(spec, "faultline.local/accounts:1", "10.96.0.7", "faultline.local/faultline-toxiproxy:1")
	c := sts.Spec.Template.Spec.Containers[0]
	if got := strings.Join(c.Args, " "); got != "-listen 0.0.0.0:8080 -peer 10.96.0.7:9001" {
		t.Errorf("args = %q", got)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["ADVERTISE"] != "10.96.0.7:8080" || env["DATA"] != "/data" {
		t.Errorf("env = %v: want ADVERTISE at the ClusterIP, DATA at /data", env)
	}
	if *sts.Spec.Replicas != 1 || sts.Namespace != "faultline-t3" || sts.Spec.Template.Labels["faultline.instance"] != "accounts-1" {
		t.Errorf("StatefulSet %s/%s, %d replicas, labels %v", sts.Namespace, sts.Name, *sts.Spec.Replicas, sts.Spec.Template.Labels)
	}
	p := c.StartupProbe
	if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.IntValue() != 8080 || p.PeriodSeconds != 1 || p.FailureThreshold < 20 {
		t.Errorf("startup probe = %+v: want GET /healthz on 8080 every second for at least 20 tries", p)
	}
	if *c.SecurityContext.RunAsUser != 65534 || *c.SecurityContext.RunAsGroup != 65534 {
		t.Errorf("security context = %+v", c.SecurityContext)
	}
	claims := sts.Spec.VolumeClaimTemplates
	if len(claims) != 1 || claims[0].Spec.StorageClassName == nil || *claims[0].Spec.StorageClassName != "fast" {
		t.Errorf("volume claims = %+v: want one of class fast", claims)
	}
	if c.VolumeMounts[0].MountPath != "/data" {
		t.Errorf("mounts = %+v", c.VolumeMounts)
	}
	// The agent runs beside it, sees its processes, and answers on loopback only.
	pod := sts.Spec.Template.Spec
	if len(pod.Containers) != 2 || pod.ShareProcessNamespace == nil || !*pod.ShareProcessNamespace {
		t.Fatalf("pod spec: %d containers, shared process namespace %v: want the app and the agent, sharing one", len(pod.Containers), pod.ShareProcessNamespace)
	}
	a := pod.Containers[1]
	if a.Image != "faultline.local/faultline-toxiproxy:1" || strings.Join(a.Args, " ") != "agent -listen 127.0.0.1:19901" || *a.SecurityContext.RunAsUser != 0 {
		t.Errorf("agent container = %s %v as %d: want the proxy image's agent on 127.0.0.1:19901, as root", a.Image, a.Args, *a.SecurityContext.RunAsUser)
	}
	// A spec that uses the agent's port moves the agent, never the program.
	spec.Ports = append(spec.Ports, runtime.NamedPort{Name: "admin", Port: 19901})
	if a := r.StatefulSetForTest(spec, "x:1", "10.96.0.7", "y:1").Spec.Template.Spec.Containers[1]; strings.Join(a.Args, " ") != "agent -listen 127.0.0.1:19902" {
		t.Errorf("agent beside a program on 19901: args %v, want port 19902", a.Args)
	}
	// The Toxiproxy pod has none.
	if cs := r.StatefulSetForTest(spec, "x:1", "10.96.0.7", "").Spec.Template.Spec.Containers; len(cs) != 1 {
		t.Errorf("with no agent image: %d containers, want 1", len(cs))
	}
}

func TestProxyListenAddressesAreSlots(t *testing.T) {
	for listen, want := range map[string]int{"0.0.0.0:20000": 20000, "0.0.0.0:20007": 20007, "0.0.0.0:8474": 0, "nonsense": 0} {
		got, err := kubernetes.ListenPortForTest(listen)
		if want == 0 && err == nil || want != 0 && (err != nil || got != want) {
			t.Errorf("listenPort(%q) = %d, %v; want %d", listen, got, err, want)
		}
	}
}
