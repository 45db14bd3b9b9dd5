package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// modulePath is faultline's own module: inside its checkout, `faultline run` runs the
// reference suites.
const modulePath = "github.com/faultline/faultline"

// moduleOf reads the module path a go.mod declares.
func moduleOf(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", fmt.Errorf("%s declares no module", gomod)
}

// nearestModule walks up from dir to the nearest go.mod and returns its directory and
// the module it declares: `faultline run` runs the experiments of any module.
func nearestModule(dir string) (root, module string, err error) {
	dir, err = filepath.Abs(dir)
	if err != nil {
		return "", "", err
	}
	for d := dir; ; {
		if mod, err := moduleOf(filepath.Join(d, "go.mod")); err == nil {
			return d, mod, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", "", fmt.Errorf("no go.mod in %s or above it: run faultline inside a Go module (go mod init), or cd into one", dir)
		}
		d = parent
	}
}
