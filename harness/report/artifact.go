package report

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/faultline/faultline/harness/check"
)

// ArtifactsDir is the directory, inside a report's, that holds the checks' artifacts
// (porcupine's visualisation of a history that is not linearizable, …).
const ArtifactsDir = "artifacts"

// SaveArtifacts writes every artifact the run's checks and figures still hold in memory
// into dir/artifacts, one file per artifact named after its scenario and the name it
// asked for, and returns the run with each artifact's File set to that path, relative
// to dir, and its data dropped: what report.json and the pages link to.
func SaveArtifacts(dir string, run Run) (Run, error) {
	run.Scenarios = slices.Clone(run.Scenarios)
	for i, s := range run.Scenarios {
		taken := map[string]bool{}
		save := func(rs check.Results) (check.Results, error) {
			rs = slices.Clone(rs)
			for j := range rs {
				rs[j].Artifacts = slices.Clone(rs[j].Artifacts)
				for k, a := range rs[j].Artifacts {
					if a.Data == nil {
						continue
					}
					name := a.File
					if !strings.HasPrefix(name, ArtifactsDir+"/") {
						file := filepath.Base(a.File)
						if a.File == "" {
							file = "artifact"
						}
						base := FileSlug(s.ID) + "-" + file
						name = path.Join(ArtifactsDir, base)
						for n := 2; taken[name]; n++ {
							name = path.Join(ArtifactsDir, fmt.Sprintf("%d-%s", n, base))
						}
					}
					taken[name] = true
					if err := os.MkdirAll(filepath.Join(dir, ArtifactsDir), 0o755); err != nil {
						return nil, fmt.Errorf("save artifact: %w", err)
					}
					if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), a.Data, 0o644); err != nil {
						return nil, fmt.Errorf("save artifact %s of %s: %w", a.Name, s.ID, err)
					}
					rs[j].Artifacts[k].File, rs[j].Artifacts[k].Data = name, nil
				}
			}
			return rs, nil
		}
		var err error
		if run.Scenarios[i].Checks, err = save(s.Checks); err != nil {
			return run, err
		}
		if run.Scenarios[i].Figures, err = save(s.Figures); err != nil {
			return run, err
		}
	}
	return run, nil
}

// loadArtifacts reads back into memory the artifacts a saved run links to, so that a
// report rendered again into another directory carries them along; a missing file is
// left as a link.
func loadArtifacts(dir string, run Run) Run {
	for i := range run.Scenarios {
		for _, rs := range []check.Results{run.Scenarios[i].Checks, run.Scenarios[i].Figures} {
			for j := range rs {
				for k, a := range rs[j].Artifacts {
					if a.File == "" || !filepath.IsLocal(filepath.FromSlash(a.File)) {
						continue
					}
					if b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(a.File))); err == nil {
						rs[j].Artifacts[k].Data = b
					}
				}
			}
		}
	}
	return run
}
