package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/jsonmessage"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/faultline/faultline/harness/runtime"
)

// scratchDockerfile wraps one static binary: nothing but the binary and an empty data
// directory owned by the unprivileged user it runs as (fixtures/Dockerfile). It goes into
// the image hash, so changing it rebuilds every image.
const scratchDockerfile = `FROM scratch
COPY --chown=65534:65534 data/ /data/
COPY app /app
USER 65534:65534
WORKDIR /data
ENTRYPOINT ["/app"]
`

// imageCache builds each image at most once per runtime, whatever the number of
// instances started from it concurrently, and remembers binary hashes.
type imageCache struct {
	mu     sync.Mutex
	builds map[string]*imageBuild // by tag
	hashes map[fileKey]string
}

type imageBuild struct {
	done chan struct{}
	err  error
}

type fileKey struct {
	path    string
	size    int64
	modTime time.Time
}

func newImageCache() *imageCache {
	return &imageCache{builds: map[string]*imageBuild{}, hashes: map[fileKey]string{}}
}

// image returns the image to run an artifact from, building it if needed.
func (r *Runtime) image(ctx context.Context, a runtime.Artifact) (string, error) {
	switch {
	case a.Binary != "":
		return r.binaryImage(ctx, a.Binary)
	case a.Dockerfile != "":
		return r.dockerfileImage(ctx, a.Dockerfile)
	default:
		if _, err := r.api.ImageInspect(ctx, a.Image); err != nil {
			if cerrdefs.IsNotFound(err) {
				return "", fmt.Errorf("image %q is not in the local engine, and no registry is reachable to pull it: "+
					"build it first (docker build -t %s <context>), or give a Binary or Dockerfile artifact instead", a.Image, a.Image)
			}
			return "", fmt.Errorf("inspect image %q: %w", a.Image, err)
		}
		return a.Image, nil
	}
}

// binaryImage is faultline/<basename>:<hash[:12]>, a scratch image holding the binary,
// where hash covers the binary's content and the Dockerfile that wraps it.
func (r *Runtime) binaryImage(ctx context.Context, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("binary %s: %w", path, err)
	}
	sum, err := r.images.binaryHash(abs)
	if err != nil {
		return "", err
	}
	tag := fmt.Sprintf("%s/%s:%s", r.opts.imageRepo, repoName(filepath.Base(abs)), sum[:12])
	err = r.images.once(ctx, tag, func() error {
		return r.buildImage(ctx, tag, sum, abs, func(tw *tar.Writer) error { return binaryContext(tw, abs) })
	}, r.imageExists)
	if err != nil {
		return "", err
	}
	return tag, nil
}

// dockerfileImage is faultline/<dirname>:<hash[:12]>, built from the context directory,
// where hash covers every file the build sees (after .dockerignore).
func (r *Runtime) dockerfileImage(ctx context.Context, dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("build context %s: %w", dir, err)
	}
	files, err := contextFiles(abs)
	if err != nil {
		return "", err
	}
	sum, err := hashFiles(abs, files)
	if err != nil {
		return "", err
	}
	tag := fmt.Sprintf("%s/%s:%s", r.opts.imageRepo, repoName(filepath.Base(abs)), sum[:12])
	err = r.images.once(ctx, tag, func() error {
		return r.buildImage(ctx, tag, sum, abs, func(tw *tar.Writer) error { return tarFiles(tw, abs, files) })
	}, r.imageExists)
	if err != nil {
		return "", err
	}
	return tag, nil
}

func (r *Runtime) imageExists(ctx context.Context, tag string) (bool, error) {
	_, err := r.api.ImageInspect(ctx, tag)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("inspect image %s: %w", tag, err)
	}
}

// once runs build for tag unless the engine already has the image or another start of
// this runtime is building it (then it waits for that build, and builds itself if that
// one gave up because its caller's context ended).
func (c *imageCache) once(ctx context.Context, tag string, build func() error,
	exists func(context.Context, string) (bool, error)) error {
	c.mu.Lock()
	for {
		b, ok := c.builds[tag]
		if !ok {
			break
		}
		c.mu.Unlock()
		select {
		case <-b.done:
		case <-ctx.Done():
			return fmt.Errorf("wait for image %s: %w", tag, ctx.Err())
		}
		if b.err == nil {
			return nil
		}
		if !errors.Is(b.err, context.Canceled) && !errors.Is(b.err, context.DeadlineExceeded) {
			return b.err
		}
		c.mu.Lock()
	}
	b := &imageBuild{done: make(chan struct{})}
	c.builds[tag] = b
	c.mu.Unlock()

	ok, err := exists(ctx, tag)
	if err == nil && !ok {
		err = build()
	}
	b.err = err
	if err != nil {
		c.mu.Lock()
		delete(c.builds, tag) // let a later start try again
		c.mu.Unlock()
	}
	close(b.done)
	return err
}

func (c *imageCache) binaryHash(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("binary %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("binary %s: not a regular file", path)
	}
	key := fileKey{path: path, size: fi.Size(), modTime: fi.ModTime()}
	c.mu.Lock()
	sum, ok := c.hashes[key]
	c.mu.Unlock()
	if ok {
		return sum, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("binary %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	h.Write([]byte(scratchDockerfile))
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash binary %s: %w", path, err)
	}
	sum = hex.EncodeToString(h.Sum(nil))
	c.mu.Lock()
	c.hashes[key] = sum
	c.mu.Unlock()
	return sum, nil
}

// buildImage builds tag with the legacy builder (nothing is pulled: FROM scratch only)
// from the tar context that writeContext writes, streamed to the engine.
func (r *Runtime) buildImage(ctx context.Context, tag, sum, source string, writeContext func(*tar.Writer) error) error {
	began := time.Now()
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := writeContext(tw)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	defer pr.Close()

	res, err := r.api.ImageBuild(ctx, pr, client.ImageBuildOptions{
		Tags:        []string{tag},
		Dockerfile:  "Dockerfile",
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
		Labels: map[string]string{
			LabelImage:         "true",
			"faultline.source": filepath.Base(source),
			"faultline.sha256": sum,
		},
	})
	if err != nil {
		return fmt.Errorf("build image %s from %s: %w", tag, source, err)
	}
	defer res.Body.Close()
	var out bytes.Buffer
	if err := jsonmessage.DisplayStream(res.Body, &out); err != nil {
		return fmt.Errorf("build image %s from %s: %w\n%s", tag, source, err, lastLines(out.String(), 20))
	}
	ok, err := r.imageExists(ctx, tag)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("build image %s from %s: the engine reported no error but has no such image\n%s",
			tag, source, lastLines(out.String(), 20))
	}
	r.log.Info("built image", "image", tag, "from", source, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// binaryContext writes the build context of a binary: Dockerfile, app, data/.
func binaryContext(tw *tar.Writer, path string) error {
	now := time.Now()
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(scratchDockerfile)), ModTime: now}); err != nil {
		return err
	}
	if _, err := io.WriteString(tw, scratchDockerfile); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now}); err != nil {
		return err
	}
	return addFile(tw, path, "app", 0o755)
}

func addFile(tw *tar.Writer, path, name string, mode int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return fmt.Errorf("copy %s into the build context: %w", path, err)
	}
	return nil
}

// contextFiles lists the files and directories of a build context that its
// .dockerignore keeps, relative to dir, in lexical order.
func contextFiles(dir string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(dir, "Dockerfile")); err != nil {
		return nil, fmt.Errorf("build context %s: %w", dir, err)
	}
	var excludes []string
	if f, err := os.Open(filepath.Join(dir, ".dockerignore")); err == nil {
		excludes, err = ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("build context %s: .dockerignore: %w", dir, err)
		}
	}
	pm, err := patternmatcher.New(excludes)
	if err != nil {
		return nil, fmt.Errorf("build context %s: .dockerignore: %w", dir, err)
	}
	var files []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		skip := false
		if rel != "Dockerfile" && rel != ".dockerignore" {
			skip, err = pm.MatchesOrParentMatches(rel)
			if err != nil {
				return err
			}
		}
		if skip {
			if d.IsDir() && !pm.Exclusions() {
				return filepath.SkipDir
			}
			return nil
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", dir, err)
	}
	return files, nil
}

// hashFiles hashes the names, modes and contents of files (not their times), so that
// an unchanged context keeps its image.
func hashFiles(dir string, files []string) (string, error) {
	h := sha256.New()
	for _, rel := range files {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		fi, err := os.Lstat(path)
		if err != nil {
			return "", fmt.Errorf("hash build context: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%o\x00", rel, fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return "", fmt.Errorf("hash build context: %w", err)
			}
			fmt.Fprintf(h, "%s\x00", target)
		case fi.Mode().IsRegular():
			f, err := os.Open(path)
			if err != nil {
				return "", fmt.Errorf("hash build context: %w", err)
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return "", fmt.Errorf("hash build context: %w", err)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func tarFiles(tw *tar.Writer, dir string, files []string) error {
	for _, rel := range files {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		var link string
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = rel
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			if err := copyFile(tw, path); err != nil {
				return err
			}
		}
	}
	return nil
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

var repoUnsafe = regexp.MustCompile(`[^a-z0-9._-]+`)

// repoName makes a file name into a valid image repository component.
func repoName(base string) string {
	s := repoUnsafe.ReplaceAllString(strings.ToLower(base), "-")
	s = strings.Trim(s, "._-")
	if s == "" {
		return "app"
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
