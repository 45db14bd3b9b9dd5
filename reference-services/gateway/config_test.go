package gateway

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reference-services/config"
)

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	with := func(f func(*Config)) Config { c := DefaultConfig(); f(&c); return c }
	cases := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr []string // each must appear in the collected error
	}{
		{name: "nothing set gives the defaults", env: nil, want: DefaultConfig()},
		{name: "every switch set", env: map[string]string{
			"GATEWAY_API_KEYS": " a, b ,,c", "GATEWAY_RATE": "12.5", "GATEWAY_BURST": "7",
			"GATEWAY_RETRIES": "0", "GATEWAY_BREAKER": "off", "GATEWAY_CACHE": "off",
			"GATEWAY_ATTEMPT_TIMEOUT": "250ms", "GATEWAY_BREAKER_DELAY": "3s", "GATEWAY_RESOLVE_TIMEOUT": "2s",
		}, want: with(func(c *Config) {
			c.APIKeys, c.Rate, c.Burst = []string{"a", "b", "c"}, 12.5, 7
			c.Retries, c.Breaker, c.Cache = 0, false, false
			c.AttemptTimeout, c.BreakerDelay, c.ResolveTimeout = 250*time.Millisecond, 3*time.Second, 2*time.Second
		})},
		{name: "bad values keep the defaults and name the variable", env: map[string]string{
			"GATEWAY_RATE": "fast", "GATEWAY_BURST": "0", "GATEWAY_RETRIES": "-1",
			"GATEWAY_BREAKER": "maybe", "GATEWAY_ATTEMPT_TIMEOUT": "1",
		}, want: DefaultConfig(), wantErr: []string{
			"GATEWAY_RATE", "GATEWAY_BURST", "GATEWAY_RETRIES", "GATEWAY_BREAKER", "GATEWAY_ATTEMPT_TIMEOUT",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := config.FromMap(tc.env)
			got := ConfigFromEnv(env)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ConfigFromEnv = %+v\nwant %+v", got, tc.want)
			}
			err := env.Err()
			if len(tc.wantErr) == 0 && err != nil {
				t.Errorf("unexpected error: %v", err)
			}
			for _, name := range tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), name) {
					t.Errorf("error %v does not name %s", err, name)
				}
			}
		})
	}
}

func TestValidateNamesFieldAndFix(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		change func(*Config)
		want   []string
	}{
		{"no keys", func(c *Config) { c.APIKeys = []string{""} }, []string{"APIKeys", "GATEWAY_API_KEYS"}},
		{"zero timeout", func(c *Config) { c.AttemptTimeout = 0 }, []string{"AttemptTimeout", "GATEWAY_ATTEMPT_TIMEOUT"}},
		{"zero breaker delay", func(c *Config) { c.BreakerDelay = 0 }, []string{"BreakerDelay", "GATEWAY_BREAKER_DELAY"}},
		{"too many retries", func(c *Config) { c.Retries = 50 }, []string{"Retries", "GATEWAY_RETRIES"}},
		{"window below failures", func(c *Config) { c.BreakerWindow = 2 }, []string{"BreakerWindow"}},
		{"two at once", func(c *Config) { c.Rate, c.Burst = 0, 0 }, []string{"Rate", "Burst"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.change(&c)
			err := c.Validate()
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v, want it to name %s", err, w)
				}
			}
			if _, nerr := New(c, nil); nerr == nil {
				t.Errorf("New accepted a config that does not validate")
			}
		})
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig does not validate: %v", err)
	}
}
