package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/reference-services/config"
)

func TestDefaultsAndValues(t *testing.T) {
	env := config.FromMap(map[string]string{"D": "250ms", "N": "7", "B": "off", "L": " a, ,b ", "H": "127.0.0.1:80", "F": "1.5"})
	if got := env.Duration("D", time.Second); got != 250*time.Millisecond {
		t.Errorf("Duration = %v", got)
	}
	if got := env.Duration("UNSET", time.Second); got != time.Second {
		t.Errorf("default Duration = %v", got)
	}
	if got := env.Int("N", 1, 0); got != 7 {
		t.Errorf("Int = %d", got)
	}
	if env.Bool("B", true) {
		t.Error("Bool(off) = true")
	}
	if got := env.List("L", nil); strings.Join(got, "|") != "a|b" {
		t.Errorf("List = %q", got)
	}
	if got := env.HostPort("H", ""); got != "127.0.0.1:80" {
		t.Errorf("HostPort = %q", got)
	}
	if got := env.Float("F", 1); got != 1.5 {
		t.Errorf("Float = %v", got)
	}
	if got := env.WellKnown("UNSET", "registry", "8500"); got != "127.0.0.1:8500" {
		t.Errorf("WellKnown off a container network = %q, want loopback", got)
	}
	if err := env.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestEveryBadValueIsReportedByName(t *testing.T) {
	env := config.FromMap(map[string]string{"D": "soon", "N": "-3", "B": "maybe", "H": "nohost", "F": "0"})
	env.Duration("D", time.Second)
	env.Int("N", 1, 0)
	env.Bool("B", true)
	env.HostPort("H", ":1")
	env.Float("F", 1)
	err := env.Err()
	if err == nil {
		t.Fatal("bad values gave no error")
	}
	for _, want := range []string{`D="soon" is not a duration`, `N="-3" is not a whole number >= 0`, `B="maybe" is not on or off`, `H="nohost" is not host:port`, `F="0" is not a number > 0`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
