package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func cmdList(ctx context.Context, args []string) int {
	fs := newFlagSet("list", "List the experiments `faultline run` would run with the same arguments, without\n"+
		"running any: the reference suites' scenarios with their labels inside faultline's\n"+
		"checkout (a Ginkgo dry run), each package's tests in any other module (go test -list;\n"+
		"a Ginkgo suite's specs when -label-filter or -focus is given).", "[packages]")
	labels := fs.String("label-filter", "!slow", "Ginkgo label filter, as for run")
	focus := fs.String("focus", "", "Ginkgo focus, as for run")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	ginkgoAsked := false
	fs.Visit(func(f *flag.Flag) { ginkgoAsked = ginkgoAsked || f.Name == "label-filter" || f.Name == "focus" })
	cwd, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(os.Stderr, "faultline list: %v\n", err)
		return 1
	}
	root, mod, err := nearestModule(cwd)
	if err != nil {
		fmt.Fprintf(os.Stderr, "faultline list: %v\n", err)
		return 1
	}
	// Inside faultline's checkout, with no packages named, the reference suites; else
	// the packages named (relative to here, as go test takes them), by default every
	// package of the module.
	own := mod == modulePath && fs.NArg() == 0
	pkgs := fs.Args()
	if len(pkgs) == 0 {
		pkgs = []string{filepath.Join(root, "...")}
		if own {
			pkgs = []string{filepath.Join(root, "scenarios")}
		}
	}
	goArgs := append([]string{"test"}, pkgs...)
	ginkgo := own || ginkgoAsked
	if ginkgo {
		goArgs = append(goArgs, "-count=1", "-v", "-run", "^Test", "-ginkgo.dry-run", "-ginkgo.v", "-ginkgo.no-color")
		if *labels != "" {
			goArgs = append(goArgs, "-ginkgo.label-filter="+*labels)
		}
		if *focus != "" {
			goArgs = append(goArgs, "-ginkgo.focus="+*focus)
		}
	} else {
		goArgs = append(goArgs, "-list", ".")
	}
	cmd := exec.CommandContext(ctx, "go", goArgs...)
	cmd.Dir = cwd
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run()
	var n int
	if ginkgo {
		n = listSpecs(&out, os.Stdout)
	} else {
		n = listTests(&out, os.Stdout)
	}
	if runErr != nil {
		fmt.Fprintf(os.Stderr, "faultline list: go %s: %v\n%s", strings.Join(goArgs, " "), runErr, errb.String())
		return 1
	}
	fmt.Printf("%d experiment(s)\n", n)
	return 0
}

// listTests prints `go test -list` output as "package: Test": the tests of each package
// that has any.
func listTests(r io.Reader, w io.Writer) int {
	var tests []string
	n := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch f := strings.Fields(line); {
		case len(f) >= 2 && (f[0] == "ok" || f[0] == "?"):
			for _, t := range tests {
				fmt.Fprintf(w, "%s: %s\n", f[1], t)
				n++
			}
			tests = nil
		case len(f) == 1 && strings.HasPrefix(line, "Test") || strings.HasPrefix(line, "Example") || strings.HasPrefix(line, "Fuzz"):
			if strings.HasPrefix(line, "Test") && line != "TestMain" {
				tests = append(tests, line)
			}
		}
	}
	return n
}

// listSpecs prints a Ginkgo dry run's specs, one line each with its labels, read as
// run's progress reads them.
func listSpecs(r io.Reader, w io.Writer) int {
	n := 0
	var afterSep bool
	var header string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		t := strings.TrimSpace(sc.Text())
		switch {
		case ginkgoSep.MatchString(t):
			afterSep, header = true, ""
		case header != "" && ginkgoWhere.MatchString(t):
			if !strings.HasPrefix(header, "[") {
				fmt.Fprintln(w, header)
				n++
			}
			header = ""
		case afterSep && t != "":
			header, afterSep = t, false
		}
	}
	return n
}
