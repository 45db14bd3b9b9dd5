// Package local is the runtime backend that runs each instance as a child process of the
// harness on 127.0.0.1: no Docker, no images, a start in milliseconds. Every instance
// gets a free loopback port and a data directory of its own, both kept across restarts;
// process faults are signals to the instance's process group (SIGKILL, SIGTERM, SIGSTOP,
// SIGCONT), and the run's Toxiproxy server is embedded in the harness process
// (harness/proxyserver). There is no network to cut, so Disconnect and Reconnect report
// runtime.ErrUnsupported: use a proxy fault instead.
//
// It owns the child processes it starts and the run directory it creates, and leaves
// nothing behind after Close: children run in their own process group and, on Linux,
// die with the harness (Pdeathsig).
//
// It imports runtime and proxyserver only. It must never import the harness root,
// fault, netfault, load, check, report, scenarios or reference-services.
package local
