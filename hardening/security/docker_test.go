package security_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/faultline/faultline/harness/runtime/docker"
)

// unprivileged is the user:group every faultline image runs as (nobody:nogroup).
const unprivileged = "65534:65534"

// TestDockerRun brings the small system up once in containers and checks the images,
// the exposure and the privileges of every container of that run (found by its
// faultline.run label; no other container on the engine is looked at).
func TestDockerRun(t *testing.T) {
	_, rt := upDocker(t)
	api := dockerClient(t)
	ctrs := runContainers(t, api, rt.RunID())

	t.Run("images run as non-root and hold only the binary", func(t *testing.T) {
		checkImages(t, api, ctrs)
	})
	t.Run("published ports bind 127.0.0.1 and containers stay on the run's networks", func(t *testing.T) {
		checkExposure(t, api, rt, ctrs)
	})
	t.Run("no container gets the Docker socket or privileges", func(t *testing.T) {
		checkPrivileges(t, ctrs)
	})
}

// dockerClient is a client of the engine the runtime uses, closed at the end of the test.
func dockerClient(t testing.TB) *testcontainers.DockerClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	api, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { _ = api.Close() })
	return api
}

// runContainers inspects every container labelled with runID, and fails unless the
// ones the small system must have are among them.
func runContainers(t testing.TB, api client.APIClient, runID string) map[string]container.InspectResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := api.ContainerList(ctx, client.ContainerListOptions{
		All: true, Filters: client.Filters{}.Add("label", docker.LabelRun+"="+runID),
	})
	if err != nil {
		t.Fatalf("list the run's containers: %v", err)
	}
	out := map[string]container.InspectResponse{}
	for _, c := range list.Items {
		res, err := api.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatalf("inspect container %s: %v", c.ID, err)
		}
		name := res.Container.Config.Labels[docker.LabelInstance]
		if res.Container.Config.Labels[docker.LabelRun] != runID || name == "" {
			t.Fatalf("container %s is not labelled as an instance of run %s: %v", c.ID, runID, res.Container.Config.Labels)
		}
		out[name] = res.Container
	}
	for _, want := range []string{docker.ProxyAlias, "registry-1", "accounts-db", "accounts-1", "gateway-1"} {
		if _, ok := out[want]; !ok {
			t.Fatalf("run %s has no container for %s (it has %v)", runID, want, slices.Sorted(maps.Keys(out)))
		}
	}
	return out
}

// checkImages inspects the image of every container of the run: it runs as 65534, its
// entrypoint is the binary, and its layers hold exactly /app (owned by root, not
// writable by the user) and the empty /data the user owns — no shell, nothing else.
func checkImages(t *testing.T, api client.APIClient, ctrs map[string]container.InspectResponse) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seen := map[string]bool{}
	for name, c := range ctrs {
		if seen[c.Image] {
			continue
		}
		seen[c.Image] = true
		img, err := api.ImageInspect(ctx, c.Image)
		if err != nil {
			t.Fatalf("inspect the image of %s: %v", name, err)
		}
		tag := c.Config.Image
		if img.Config == nil {
			t.Errorf("image %s (%s) has no config", tag, name)
			continue
		}
		if img.Config.User != unprivileged {
			t.Errorf("image %s (%s) runs as user %q, want %q: non-root", tag, name, img.Config.User, unprivileged)
		}
		if !slices.Equal(img.Config.Entrypoint, []string{"/app"}) {
			t.Errorf("image %s (%s) has entrypoint %q, want [/app]", tag, name, img.Config.Entrypoint)
		}
		files, err := imageFiles(ctx, api, c.Image)
		if err != nil {
			t.Fatalf("read the layers of %s (%s): %v", tag, name, err)
		}
		if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, []string{"app", "data"}) {
			t.Errorf("image %s (%s) holds %q, want exactly [app data]: nothing but the binary and its data directory", tag, name, got)
		}
		for _, sh := range []string{"bin/sh", "bin/bash", "bin/ash", "bin/busybox", "usr/bin/env"} {
			if _, ok := files[sh]; ok {
				t.Errorf("image %s (%s) holds a shell or interpreter: /%s", tag, name, sh)
			}
		}
		if app, ok := files["app"]; ok && (app.Uid != 0 || app.Mode&0o022 != 0) {
			t.Errorf("image %s (%s): /app is owned by uid %d with mode %o: the user it runs as must not be able to change it", tag, name, app.Uid, app.Mode)
		}
		if data, ok := files["data"]; ok && (data.Uid != 65534 || data.Typeflag != tar.TypeDir) {
			t.Errorf("image %s (%s): /data is owned by uid %d (type %c), want a directory of 65534", tag, name, data.Uid, data.Typeflag)
		}
	}
	t.Logf("inspected %d images of %d containers", len(seen), len(ctrs))
	if len(seen) < 4 {
		t.Errorf("inspected %d images, want one per program (toxiproxy, registry, etcd, accounts, gateway)", len(seen))
	}
}

// imageFiles exports image (docker save) and returns every path its layers hold,
// without a leading "./" or trailing "/", with the last header seen for it. It reads
// both the legacy layout (<id>/layer.tar) and the OCI one (blobs/sha256/<digest>),
// by trying every file of the export as a tar.
func imageFiles(ctx context.Context, api client.APIClient, image string) (map[string]*tar.Header, error) {
	rc, err := api.ImageSave(ctx, []string{image})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	files := map[string]*tar.Header{}
	outer := tar.NewReader(rc)
	for {
		h, err := outer.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg || strings.HasSuffix(h.Name, ".json") || path.Base(h.Name) == "repositories" || path.Base(h.Name) == "oci-layout" {
			continue
		}
		layer := tar.NewReader(outer)
		for {
			lh, err := layer.Next()
			if err != nil {
				break // the end of the layer, or not a layer at all
			}
			name := strings.TrimSuffix(strings.TrimPrefix(path.Clean("/"+lh.Name), "/"), "/")
			if name == "" || strings.HasPrefix(path.Base(name), ".wh.") {
				continue
			}
			files[name] = lh
		}
	}
}

// checkExposure fails on any port of the run published beyond 127.0.0.1, on any
// container attached to a network other than the run's own two (the run's network,
// and for instances the run's ports network, which keeps their published port alive
// while the run's network is cut: never Docker's default bridge, which every container
// of the engine shares), on a host network, and on any container that is not the
// run's on either of the run's networks.
func checkExposure(t *testing.T, api client.APIClient, rt *docker.Runtime, ctrs map[string]container.InspectResponse) {
	published := 0
	ids := map[string]bool{}
	for name, c := range ctrs {
		ids[c.ID] = true
		for port, bindings := range c.HostConfig.PortBindings {
			for _, b := range bindings {
				if !b.HostIP.IsValid() || !b.HostIP.IsLoopback() {
					t.Errorf("%s publishes %s on host address %q: bind 127.0.0.1", name, port, b.HostIP)
				}
			}
		}
		if c.NetworkSettings == nil {
			t.Errorf("%s has no network settings", name)
			continue
		}
		for port, bindings := range c.NetworkSettings.Ports {
			for _, b := range bindings {
				published++
				if !b.HostIP.IsValid() || !b.HostIP.IsLoopback() {
					t.Errorf("%s's %s is published on %s:%s, beyond loopback", name, port, b.HostIP, b.HostPort)
				}
			}
		}
		if c.HostConfig.NetworkMode == "host" {
			t.Errorf("%s runs on the host's network", name)
		}
		allowed := []string{rt.Network(), rt.Network() + "-ports"}
		if name == docker.ProxyAlias {
			allowed = []string{rt.Network()}
		}
		if _, ok := c.NetworkSettings.Networks[rt.Network()]; !ok {
			t.Errorf("%s is not on the run's network %s", name, rt.Network())
		}
		for n := range c.NetworkSettings.Networks {
			if !slices.Contains(allowed, n) {
				t.Errorf("%s is attached to network %q: want only %v", name, n, allowed)
			}
		}
	}
	t.Logf("%d published ports on %d containers", published, len(ctrs))
	if published < len(ctrs) {
		t.Errorf("saw %d published ports for %d containers: the check saw too little to mean anything", published, len(ctrs))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, net := range []string{rt.Network(), rt.Network() + "-ports"} {
		res, err := api.NetworkInspect(ctx, net, client.NetworkInspectOptions{})
		if err != nil {
			t.Fatalf("inspect the run's network %s: %v", net, err)
		}
		if res.Network.Labels[docker.LabelRun] != rt.RunID() {
			t.Errorf("network %s is labelled %v, want %s=%s", net, res.Network.Labels, docker.LabelRun, rt.RunID())
		}
		for id, ep := range res.Network.Containers {
			if !ids[id] {
				t.Errorf("container %s (%s), not the run's, is on the run's network %s", ep.Name, id, net)
			}
		}
	}
}

// checkPrivileges fails on a container that mounts the Docker socket (or anything of
// the host), runs privileged, adds capabilities, shares a host namespace, maps a
// device, drops its security profiles, or runs as root.
func checkPrivileges(t *testing.T, ctrs map[string]container.InspectResponse) {
	for name, c := range ctrs {
		for _, m := range c.Mounts {
			if strings.Contains(m.Source, "docker.sock") || strings.Contains(m.Destination, "docker.sock") {
				t.Errorf("%s mounts the Docker socket: %s -> %s", name, m.Source, m.Destination)
			}
			if m.Type == "bind" {
				t.Errorf("%s bind-mounts %s of the host at %s: a container gets nothing of the host", name, m.Source, m.Destination)
			}
		}
		hc := c.HostConfig
		for _, b := range hc.Binds {
			t.Errorf("%s binds %q of the host", name, b)
		}
		for _, m := range hc.Mounts {
			t.Errorf("%s mounts %s of the host at %s", name, m.Source, m.Target)
		}
		if hc.Privileged {
			t.Errorf("%s runs privileged", name)
		}
		if len(hc.CapAdd) > 0 {
			t.Errorf("%s adds capabilities %v", name, hc.CapAdd)
		}
		if len(hc.Devices) > 0 {
			t.Errorf("%s maps host devices %v", name, hc.Devices)
		}
		for mode, v := range map[string]string{"pid": string(hc.PidMode), "ipc": string(hc.IpcMode), "userns": string(hc.UsernsMode), "uts": string(hc.UTSMode)} {
			if v == "host" {
				t.Errorf("%s shares the host's %s namespace", name, mode)
			}
		}
		for _, opt := range hc.SecurityOpt {
			if strings.Contains(opt, "unconfined") {
				t.Errorf("%s drops a security profile: %s", name, opt)
			}
		}
		if c.Config.User != unprivileged {
			t.Errorf("%s runs as user %q, want %q", name, c.Config.User, unprivileged)
		}
	}
}
