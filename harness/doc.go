// Package harness is what a scenario author imports first: declare a System (services,
// replicas, databases, dependencies), bring it up with Up on a runtime (containers under
// testcontainers-go, or local processes), and get back a Running system with typed
// handles: its instances, each service's URL, and the Toxiproxy link on every network
// path, ready for the faults of harness/fault.
//
// Every path goes through Toxiproxy: each instance is reached only through its own
// ingress proxy (the address it advertises is that proxy's), its calls to each service it
// depends on go through a proxy of its own (Instance.LinkTo), and each service's calls to
// its own database server through another. The harness knows no roles: a registry, a
// gateway or a database is a service like any other (harness/reference declares the
// reference system's; harness/modules declares etcd, Postgres and Redis).
//
// A service has any number of named ports (Service.Ports), each of each instance with an
// ingress link of its own (Instance.Port), and a readiness strategy (Service.Ready: HTTP
// on a port and path, a TCP accept, a log line, all of several) that Up waits for
// through those links, within the start timeout.
//
// Bring-up is plan, then execute: System.Plan computes from the declaration alone every
// instance's environment, arguments and readiness, every link and what it reaches, and
// what each start waits for; Up only carries that plan out.
//
// It imports runtime, netfault, supervise and history; it must never import scenarios or
// reference-services (the reference system is declared by package path, in
// harness/reference).
package harness
