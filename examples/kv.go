package shop

import (
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/modules/etcd"
)

// KV declares the shop's configuration store: a three-member etcd cluster from the
// module, its peer traffic through one link per pair of members.
func KV() (harness.System, error) {
	kv, err := etcd.Cluster("kv", 3)
	if err != nil {
		return harness.System{}, err
	}
	return harness.System{Name: "kv", Services: []harness.Service{kv}}, nil
}
