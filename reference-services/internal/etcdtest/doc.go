// Package etcdtest gives tests a real etcd server: Binary finds or builds the etcd binary
// (from the go.etcd.io/etcd/server/v3 tool of this module), Start runs one on free
// loopback ports in the test's temporary directory and stops it when the test ends, and
// a Server can be killed (SIGKILL), frozen and restarted on the same data and ports.
// BuildCommand builds one of the reference services' commands for process tests.
//
// It is for tests only. It imports the standard library; never the harness, the
// scenarios, the gateway, the registry server or a service package.
package etcdtest
