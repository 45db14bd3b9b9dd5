package instance

import (
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reference-services/config"
	"github.com/faultline/faultline/reference-services/store"
)

func TestLoadSettings(t *testing.T) {
	host, _ := os.Hostname()
	host = strings.SplitN(host, ".", 2)[0]
	for _, tc := range []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, s Settings)
		wantErr []string // every one must be named
	}{
		{
			name: "defaults",
			env:  map[string]string{},
			check: func(t *testing.T, s Settings) {
				if s.ListenAddr != ":8081" || s.Reregister != true || s.StoreAck != store.AckAfterCommit ||
					s.StoreTimeout != 2*time.Second || s.Heartbeat != time.Second || s.LogLevel != slog.LevelInfo {
					t.Errorf("defaults: %+v", s)
				}
				if want := "accounts-" + host + "-8081"; host != "" && s.InstanceID != want {
					t.Errorf("instance id %q, want %q", s.InstanceID, want)
				}
				if !strings.HasSuffix(s.RegistryAddr, ":8500") || len(s.EtcdEndpoints) != 1 || !strings.HasSuffix(s.EtcdEndpoints[0], ":2379") {
					t.Errorf("well-known addresses: registry %q etcd %v", s.RegistryAddr, s.EtcdEndpoints)
				}
			},
		},
		{
			name: "everything set",
			env: map[string]string{
				"LISTEN_ADDR": "127.0.0.1:9001", "ADVERTISE_ADDR": "proxy:7001", "INSTANCE_ID": "accounts-7",
				"REGISTRY_ADDR": "127.0.0.1:8600", "ETCD_ENDPOINTS": "127.0.0.1:1, 127.0.0.1:2,", "REREGISTER": "off",
				"STORE_ACK": "before-commit", "STORE_TIMEOUT": "500ms", "LOG_LEVEL": "debug", "REGISTRY_TTL": "4s",
			},
			check: func(t *testing.T, s Settings) {
				want := Settings{
					Service: "accounts", ListenAddr: "127.0.0.1:9001", AdvertiseAddr: "proxy:7001", InstanceID: "accounts-7",
					RegistryAddr: "127.0.0.1:8600", EtcdEndpoints: []string{"127.0.0.1:1", "127.0.0.1:2"}, Reregister: false,
					RegistryTTL: 4 * time.Second, Heartbeat: time.Second, StoreAck: store.AckBeforeCommit,
					StoreTimeout: 500 * time.Millisecond, ShutdownTimeout: 10 * time.Second, LogLevel: slog.LevelDebug,
				}
				if !slices.Equal(s.EtcdEndpoints, want.EtcdEndpoints) {
					t.Errorf("etcd endpoints %v, want %v", s.EtcdEndpoints, want.EtcdEndpoints)
				}
				s.EtcdEndpoints, want.EtcdEndpoints = nil, nil
				if !reflect.DeepEqual(s, want) {
					t.Errorf("got  %+v\nwant %+v", s, want)
				}
			},
		},
		{
			name: "listen default follows into advertise",
			env:  map[string]string{"LISTEN_ADDR": "127.0.0.1:9009"},
			check: func(t *testing.T, s Settings) {
				if s.AdvertiseAddr != "127.0.0.1:9009" || s.InstanceID != "accounts-"+host+"-9009" {
					t.Errorf("advertise %q id %q", s.AdvertiseAddr, s.InstanceID)
				}
			},
		},
		{
			name: "every bad value reported",
			env: map[string]string{
				"LISTEN_ADDR": "nope", "REREGISTER": "maybe", "STORE_ACK": "sometimes", "LOG_LEVEL": "loud",
				"STORE_TIMEOUT": "soon", "ETCD_ENDPOINTS": " , ",
			},
			wantErr: []string{"LISTEN_ADDR", "REREGISTER", "STORE_ACK", "LOG_LEVEL", "STORE_TIMEOUT", "ETCD_ENDPOINTS"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadSettings(config.FromMap(tc.env), "accounts", 8081)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				tc.check(t, s)
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, name := range tc.wantErr {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error does not name %s:\n%v", name, err)
				}
			}
		})
	}
}
