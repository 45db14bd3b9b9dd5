package kubernetes

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/faultline/faultline/harness/ociimage"
	"github.com/faultline/faultline/harness/runtime"
)

// imageRepo is the repository of the images packed from binaries.
const imageRepo = "faultline.local/"

// imported remembers, for the life of the process, the images already put on a node by
// an import command: the node keeps them, so every later run skips the import.
var imported struct {
	mu   sync.Mutex
	done map[string]chan struct{} // by import command and image name
	errs map[string]error
}

// imageFor returns the image to run a for, and its pull policy: the user's image as the
// cluster pulls it, or a binary packed and imported into the node, never pulled.
func (r *Runtime) imageFor(ctx context.Context, a runtime.Artifact, stopSignal string) (string, corev1.PullPolicy, error) {
	if a.Image != "" {
		return a.Image, corev1.PullIfNotPresent, nil
	}
	name, err := r.binaryImage(ctx, a.Binary, stopSignal)
	if err != nil {
		return "", "", err
	}
	return name, corev1.PullNever, nil
}

// agentImage is the image of the pods' agent: the Toxiproxy image (WithProxyImage), or
// the Toxiproxy binary (WithProxyBinary) imported into the node; cmd/faultline-toxiproxy
// is both.
func (r *Runtime) agentImage(ctx context.Context) (string, corev1.PullPolicy, error) {
	switch {
	case r.opts.proxyImage != "":
		return r.opts.proxyImage, corev1.PullIfNotPresent, nil
	case r.opts.proxyBinary != "":
		img, err := r.binaryImage(ctx, r.opts.proxyBinary, "")
		if err != nil {
			return "", "", fmt.Errorf("the agent's image: %w", err)
		}
		return img, corev1.PullNever, nil
	}
	return "", "", errors.New("no image for the pod's agent, which kills it for fault.Kill: pass kubernetes.WithProxyBinary with a static build of cmd/faultline-toxiproxy, or kubernetes.WithProxyImage with an image of it your cluster can pull")
}

var imageNameChars = regexp.MustCompile(`[^a-z0-9._-]+`)

// binaryImage packs binary (with the stop signal in its config) and imports it into the
// node once per process; the name holds the binary's hash.
func (r *Runtime) binaryImage(ctx context.Context, binary, stopSignal string) (string, error) {
	if len(r.opts.importCmd) == 0 {
		return "", fmt.Errorf("binary %s: no image import command: set %s or pass kubernetes.WithImageImport", binary, ImportEnv)
	}
	f, err := os.Open(binary)
	if err != nil {
		return "", fmt.Errorf("binary of image: %w", err)
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", binary, err)
	}
	tag := hex.EncodeToString(h.Sum(nil))[:16]
	if stopSignal != "" && stopSignal != "SIGTERM" {
		tag += "-" + strings.ToLower(stopSignal)
	}
	base := strings.Trim(imageNameChars.ReplaceAllString(strings.ToLower(filepath.Base(binary)), "-"), "-._")
	if base == "" {
		base = "app"
	}
	name := imageRepo + base + ":" + tag
	key := strings.Join(r.opts.importCmd, " ") + "\x00" + name

	imported.mu.Lock()
	if imported.done == nil {
		imported.done, imported.errs = map[string]chan struct{}{}, map[string]error{}
	}
	if done, ok := imported.done[key]; ok {
		imported.mu.Unlock()
		<-done
		imported.mu.Lock()
		err := imported.errs[key]
		imported.mu.Unlock()
		return name, err
	}
	done := make(chan struct{})
	imported.done[key] = done
	imported.mu.Unlock()

	err = r.importImage(ctx, ociimage.Image{Name: name, Binary: binary, Path: "/app", StopSignal: stopSignal})
	imported.mu.Lock()
	if err != nil {
		delete(imported.done, key) // a later start tries again
	}
	imported.errs[key] = err
	imported.mu.Unlock()
	close(done)
	return name, err
}

// importImage writes img and pipes it into the import command.
func (r *Runtime) importImage(ctx context.Context, img ociimage.Image) error {
	var tar bytes.Buffer
	if _, err := ociimage.Write(&tar, img); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, r.opts.importCmd[0], r.opts.importCmd[1:]...)
	cmd.Stdin = &tar
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("import image %s with %q: %w: %s", img.Name, strings.Join(r.opts.importCmd, " "), err, bytes.TrimSpace(out))
	}
	r.log.Info("image imported into the node", "image", img.Name)
	return nil
}
