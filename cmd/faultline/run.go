package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/experiment"
	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/report"
	"github.com/faultline/faultline/harness/runtime/docker"
)

func cmdRun(ctx context.Context, args []string) int {
	fs := newFlagSet("run", "Run a module's experiments with go test and write their report: in faultline's own\n"+
		"checkout the reference suites (./scenarios/), in any other module the packages given\n"+
		"(default ./...), whose tests write their experiments with harness/experiment. Prints\n"+
		"each experiment as it starts and ends, and writes the report into <out>/<timestamp>/\n"+
		"(index.html, summary.md, report.json, junit.xml, the saved data and run.log), pointing\n"+
		"<out>/latest at it. Flags for go test go after --. Exits non-zero when a test or an\n"+
		"experiment failed; the report is written either way.", "[packages] [-- go test flags]")
	kind := fs.String("runtime", harness.RuntimeKind(), "docker, local, kubernetes ($KUBECONFIG's cluster) or auto (docker when an engine answers, else local); default $FAULTLINE_RUNTIME or auto")
	labels := fs.String("label-filter", "!slow", "Ginkgo label filter picking scenarios, e.g. failover or 'isolation || overload'; the default leaves out the slow soaks (run them with -label-filter=slow); in another module, given only to Ginkgo suites")
	focus := fs.String("focus", "", "Ginkgo focus: run only scenarios whose name matches this regular expression")
	seed := fs.Uint64("seed", 0, "the run's seed, to replay a run's draws exactly (default: $FAULTLINE_SEED, else random)")
	out := fs.String("out", "", "directory the reports go in (default: reports/ at the module root)")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up on the suite after this long")
	var goFlags []string
	for i, a := range args {
		if a == "--" {
			args, goFlags = args[:i], args[i+1:]
			break
		}
	}
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	ginkgoAsked := false
	fs.Visit(func(f *flag.Flag) { ginkgoAsked = ginkgoAsked || f.Name == "label-filter" || f.Name == "focus" })
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "faultline run: %v\n", err)
		return 1
	}
	cwd, err := os.Getwd()
	if err != nil {
		return fail(err)
	}
	root, mod, err := nearestModule(cwd)
	if err != nil {
		return fail(err)
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
	for _, p := range pkgs {
		if strings.HasPrefix(p, "-") {
			fmt.Fprintf(os.Stderr, "faultline run: %q after the packages: give faultline's flags before the packages, and go test's after --\n", p)
			return 2
		}
	}
	backend, err := resolveRuntime(ctx, *kind)
	if err != nil {
		return fail(err)
	}
	if *out == "" {
		*out = filepath.Join(root, "reports")
	}
	if *out, err = filepath.Abs(*out); err != nil {
		return fail(err)
	}
	stamp := time.Now().UTC().Format("20060102-150405")
	dir := filepath.Join(*out, stamp)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "run.log"))
	if err != nil {
		return fail(err)
	}
	defer logFile.Close()

	goArgs := append([]string{"test"}, pkgs...)
	goArgs = append(goArgs, "-count=1", "-timeout", timeout.String(), "-v")
	ginkgo := own || ginkgoAsked
	if ginkgo {
		goArgs = append(goArgs, "-ginkgo.v", "-ginkgo.no-color")
		if own {
			goArgs = append(goArgs, "-ginkgo.junit-report="+filepath.Join(dir, "ginkgo-junit.xml"))
		}
		if *labels != "" {
			goArgs = append(goArgs, "-ginkgo.label-filter="+*labels)
		}
		if *focus != "" {
			goArgs = append(goArgs, "-ginkgo.focus="+*focus)
		}
	}
	goArgs = append(goArgs, goFlags...)
	parts := filepath.Join(dir, "parts")
	env := append(os.Environ(), "FAULTLINE_RUNTIME="+backend)
	if own {
		env = append(env, "FAULTLINE_REPORT_DIR="+dir)
	} else {
		env = append(env, experiment.ReportPartsEnv+"="+parts)
	}
	if *seed != 0 {
		env = append(env, "FAULTLINE_SEED="+strconv.FormatUint(*seed, 10))
	}
	// Binaries `make build` left in bin/ spare the harness building them again.
	if bin := filepath.Join(root, "bin"); os.Getenv("FAULTLINE_BIN") == "" && exists(filepath.Join(bin, "gateway")) {
		env = append(env, "FAULTLINE_BIN="+bin)
	}
	if etcd := filepath.Join(root, "bin", "etcd"); os.Getenv("FAULTLINE_ETCD") == "" && exists(etcd) {
		env = append(env, "FAULTLINE_ETCD="+etcd)
	}
	fmt.Printf("faultline run: runtime %s, reports in %s\n", backend, dir)
	fmt.Printf("faultline run: go %s\n", strings.Join(goArgs, " "))

	started := time.Now()
	cmd := exec.Command("go", goArgs...)
	cmd.Dir, cmd.Env = cwd, env
	// Its own process group, so that Ctrl-C reaches the suite once, from us, as an
	// interrupt Ginkgo answers by running every cleanup (a second one would make it skip
	// them): see interruptSuite.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("start go test: %w (is Go on PATH?)", err))
	}
	stopWatch := context.AfterFunc(ctx, func() {
		fmt.Fprintln(os.Stderr, "\nfaultline run: interrupted: stopping the suite (it cleans up first)…")
		interruptSuite(cmd.Process.Pid)
	})
	p := &progress{w: os.Stdout, plain: !ginkgo}
	copied := make(chan error, 1)
	go func() { copied <- p.Copy(pr, logFile) }()
	waitErr := cmd.Wait()
	pw.Close()
	<-copied
	stopWatch()

	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return fail(waitErr)
	}
	suiteFailed := waitErr != nil

	var run report.Run
	var histories map[string]*history.History
	if !own {
		run, histories, err = mergeParts(parts, started)
		switch {
		case err != nil && !os.IsNotExist(errors.Unwrap(err)):
			fmt.Fprintf(os.Stderr, "faultline run: %v\n", err)
		case len(run.Scenarios) == 0:
			fmt.Fprintf(os.Stderr, "faultline run: no experiment was recorded in %s: write them with harness/experiment (experiment.Start) and give each package func TestMain(m *testing.M) { os.Exit(experiment.Main(m)) }\n", strings.Join(pkgs, " "))
		default:
			if err := saveMerged(dir, run, histories); err != nil {
				fmt.Fprintf(os.Stderr, "faultline run: %v\n", err)
			}
		}
		_ = os.RemoveAll(parts)
		if *seed != 0 {
			run.Seed = *seed
		}
	} else if run, histories, err = report.Load(dir); err != nil {
		fmt.Fprintf(os.Stderr, "faultline run: the suite saved no outcomes (it was stopped before it could?): "+
			"the report holds only what Ginkgo's report tells, without checks or charts; see %s\n", logFile.Name())
		if run, err = runFromJUnit(filepath.Join(dir, "ginkgo-junit.xml"), started); err != nil {
			fmt.Fprintf(os.Stderr, "faultline run: %v\n", err)
		}
		if *seed != 0 {
			run.Seed = *seed
		}
		run.Runtimes, histories = []string{backend}, nil
	}
	if run.Versions == nil {
		run.Versions = map[string]string{}
	}
	for k, v := range versions(root) {
		if run.Versions[k] == "" {
			run.Versions[k] = v
		}
	}
	if len(run.Scenarios) > 0 {
		// Keep the versions with the saved data, for `faultline report` to show again.
		if err := report.SaveRun(dir, run); err != nil {
			fmt.Fprintf(os.Stderr, "faultline run: %v\n", err)
		}
	}
	if err := report.Render(dir, run, histories); err != nil {
		return fail(err)
	}
	if err := pointLatest(*out, stamp); err != nil {
		fmt.Fprintf(os.Stderr, "faultline run: %v\n", err)
	}
	fmt.Println()
	fmt.Println(summaryLine(run))
	if suiteFailed {
		fmt.Printf("the suite FAILED (full output: %s)\n", logFile.Name())
	}
	fmt.Println("report:", filepath.Join(dir, report.HTMLFile))
	if suiteFailed || report.ScoreOf(run).Failed > 0 || (!own && len(run.Scenarios) == 0) {
		return 1
	}
	return 0
}

// resolveRuntime turns auto into the backend it means here: docker when an engine
// answers, else local, so that the suite runs once, on one backend.
func resolveRuntime(ctx context.Context, kind string) (string, error) {
	switch kind {
	case "docker", "local", "kubernetes":
		return kind, nil
	case "", "auto":
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if docker.Available(actx) {
			fmt.Println("faultline run: runtime auto: a Docker engine answers: docker")
			return "docker", nil
		}
		fmt.Println("faultline run: runtime auto: no Docker engine answers: local processes")
		return "local", nil
	}
	return "", fmt.Errorf("--runtime %q is unknown: use docker, local, kubernetes or auto", kind)
}

// pointLatest makes out/latest a relative symlink to out/stamp, replacing it atomically.
func pointLatest(out, stamp string) error {
	tmp := filepath.Join(out, ".latest-"+stamp)
	_ = os.Remove(tmp)
	if err := os.Symlink(stamp, tmp); err != nil {
		return fmt.Errorf("point %s/latest at the report: %w", out, err)
	}
	if err := os.Rename(tmp, filepath.Join(out, "latest")); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("point %s/latest at the report: %w", out, err)
	}
	return nil
}

// versions names what ran: the Go toolchain and faultline's commit.
func versions(root string) map[string]string {
	v := map[string]string{"go": goruntime.Version()}
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		v["go"] = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "-C", root, "describe", "--always", "--dirty").Output(); err == nil {
		v["faultline"] = strings.TrimSpace(string(out))
	}
	return v
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// interruptSuite sends one SIGINT to the test binaries `go test` (pid) runs: go itself
// does not pass an interrupt on, and the whole group would get the test binary two.
// Where /proc cannot tell which they are, the group gets it.
func interruptSuite(pid int) {
	parent := map[int]int{}
	comm := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		open, close := strings.IndexByte(string(b), '('), strings.LastIndexByte(string(b), ')')
		if open < 0 || close < open {
			continue
		}
		fields := strings.Fields(string(b[close+1:]))
		if len(fields) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(fields[1])
		parent[p], comm[p] = pp, string(b[open+1:close])
	}
	descends := func(p int) bool {
		for i := 0; i < 64 && p > 1; i++ {
			if p = parent[p]; p == pid {
				return true
			}
		}
		return false
	}
	sent := false
	for p, name := range comm {
		if strings.HasSuffix(name, ".test") && descends(p) {
			sent = syscall.Kill(p, syscall.SIGINT) == nil || sent
		}
	}
	if !sent {
		_ = syscall.Kill(-pid, syscall.SIGINT)
	}
}
