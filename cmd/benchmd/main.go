// Command benchmd writes BENCHMARKS.md from the figures faultline's benchmarks recorded
// (bench/figure's JSON lines): the machine, the date and the command that reproduces
// them, one table per group with each figure next to its baseline from the same run,
// the hand-recorded figures of bench/recorded.md verbatim, and what bounds each ratio.
//
//	go run ./cmd/benchmd -in figures.jsonl -log bench.log -out BENCHMARKS.md
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/faultline/faultline/bench/figure"
)

func main() {
	in := flag.String("in", os.Getenv(figure.OutEnv), "the JSON-lines figures file (default $"+figure.OutEnv+")")
	out := flag.String("out", "BENCHMARKS.md", "the Markdown file to write")
	logPath := flag.String("log", "", "the benchmarks' go test output, to list what was skipped or failed (optional)")
	recorded := flag.String("recorded", "bench/recorded.md", "hand-recorded figures to include verbatim, if the file exists")
	bounds := flag.String("bounds", "bench/bounds.md", "prose on what bounds the remaining ratios, if the file exists")
	command := flag.String("command", "make bench", "the command that reproduces the figures")
	flag.Parse()
	if err := run(*in, *out, *logPath, *recorded, *bounds, *command); err != nil {
		slog.Error("benchmd", "err", err)
		os.Exit(1)
	}
}

func run(in, out, logPath, recordedPath, boundsPath, command string) error {
	if in == "" {
		return errors.New("no figures file: pass -in or set " + figure.OutEnv)
	}
	figs, err := readFigures(in)
	if err != nil {
		return err
	}
	doc := Doc{Date: time.Now().UTC(), Command: command, Machine: Probe(), Figures: figs}
	if doc.Recorded, err = optional(recordedPath); err != nil {
		return err
	}
	if doc.Bounds, err = optional(boundsPath); err != nil {
		return err
	}
	if logPath != "" {
		f, err := os.Open(logPath)
		if err != nil {
			return fmt.Errorf("read the benchmarks' log: %w", err)
		}
		doc.Unmeasured = Unmeasured(f)
		f.Close()
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".benchmarks-*.md")
	if err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	if err := Render(w, doc); err != nil {
		tmp.Close()
		return fmt.Errorf("render %s: %w", out, err)
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	slog.Info("wrote benchmarks", "file", out, "figures", len(figs), "not measured", len(doc.Unmeasured))
	return nil
}

// readFigures reads every figure of a JSON-lines file, refusing one that is incomplete.
func readFigures(path string) ([]figure.Figure, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read figures: %w", err)
	}
	defer f.Close()
	var figs []figure.Figure
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var fig figure.Figure
		if err := json.Unmarshal(sc.Bytes(), &fig); err != nil {
			return nil, fmt.Errorf("read figures %s: line %d: %w", path, n, err)
		}
		if err := fig.Validate(); err != nil {
			return nil, fmt.Errorf("read figures %s: line %d: %w", path, n, err)
		}
		figs = append(figs, fig)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read figures %s: %w", path, err)
	}
	return figs, nil
}

// optional reads a file that may be absent.
func optional(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return string(b), nil
}
