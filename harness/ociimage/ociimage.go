// Package ociimage writes a one-layer OCI image of a static binary as an image-layout
// tar, the archive `ctr images import` and `docker load` read. It is how an image reaches
// a Kubernetes node that pulls from no registry: the harness (or ci/kube.sh, for the
// node's pause image) writes the tar and imports it into the node's containerd.
//
// The layer holds the binary at Image.Path and an empty /data owned by the user the image
// runs as, as the docker runtime's scratch images do. The same binary and settings give
// the same bytes, so the same digest.
//
// It imports nothing of the harness.
package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	_ "crypto/sha256" // go-digest hashes with the registered sha256
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// annotationImageName is the index annotation containerd's importer names an image by.
const annotationImageName = "io.containerd.image.name"

// Image says what to pack.
type Image struct {
	// Name is the full reference the image is imported as ("faultline.local/testsvc:1a2b").
	Name string
	// Binary is the path of the static executable to pack.
	Binary string
	// Path is where the binary lives in the image, and its entrypoint ("/app").
	Path string
	// User is the user the image runs as ("65534:65534"); empty is root.
	User string
	// StopSignal is the signal a container runtime stops the image's containers with
	// ("SIGQUIT"); empty is SIGTERM.
	StopSignal string
}

// Write writes img as an OCI image-layout tar to w and returns the manifest's digest.
func Write(w io.Writer, img Image) (digest.Digest, error) {
	if err := img.check(); err != nil {
		return "", err
	}
	bin, err := os.ReadFile(img.Binary)
	if err != nil {
		return "", fmt.Errorf("read the binary of image %s: %w", img.Name, err)
	}
	layer, diffID, err := img.layer(bin)
	if err != nil {
		return "", fmt.Errorf("pack the layer of image %s: %w", img.Name, err)
	}
	config, err := json.Marshal(v1.Image{
		Platform: v1.Platform{Architecture: "amd64", OS: "linux"},
		Config:   v1.ImageConfig{Entrypoint: []string{img.Path}, User: img.User, WorkingDir: "/data", StopSignal: img.StopSignal},
		RootFS:   v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
	})
	if err != nil {
		return "", err
	}
	configDesc := descriptor(v1.MediaTypeImageConfig, config)
	layerDesc := descriptor(v1.MediaTypeImageLayerGzip, layer)
	manifest, err := json.Marshal(v1.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: v1.MediaTypeImageManifest,
		Config:    configDesc,
		Layers:    []v1.Descriptor{layerDesc},
	})
	if err != nil {
		return "", err
	}
	manifestDesc := descriptor(v1.MediaTypeImageManifest, manifest)
	manifestDesc.Annotations = map[string]string{annotationImageName: img.Name, v1.AnnotationRefName: tagOf(img.Name)}
	manifestDesc.Platform = &v1.Platform{Architecture: "amd64", OS: "linux"}
	index, err := json.Marshal(v1.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: v1.MediaTypeImageIndex,
		Manifests: []v1.Descriptor{manifestDesc},
	})
	if err != nil {
		return "", err
	}
	layout, _ := json.Marshal(v1.ImageLayout{Version: v1.ImageLayoutVersion})
	tw := tar.NewWriter(w)
	files := []struct {
		name string
		body []byte
	}{
		{v1.ImageLayoutFile, layout},
		{"index.json", index},
		{blobPath(configDesc.Digest), config},
		{blobPath(layerDesc.Digest), layer},
		{blobPath(manifestDesc.Digest), manifest},
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch}); err != nil {
			return "", err
		}
	}
	for _, f := range files {
		if err := writeFile(tw, f.name, f.body, 0o644); err != nil {
			return "", fmt.Errorf("write %s of image %s: %w", f.name, img.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	return manifestDesc.Digest, nil
}

// check names the field that is wrong and the fix.
func (img Image) check() error {
	switch {
	case img.Name == "" || strings.ContainsAny(img.Name, " \t\n") || !strings.Contains(path.Base(img.Name), ":"):
		return fmt.Errorf("ociimage: Image.Name %q: give a full reference with a tag (\"faultline.local/app:v1\")", img.Name)
	case img.Binary == "":
		return fmt.Errorf("ociimage: Image.Binary is empty: give the path of a static executable")
	case !path.IsAbs(img.Path) || img.Path == "/" || path.Clean(img.Path) != img.Path:
		return fmt.Errorf("ociimage: Image.Path %q: give a clean absolute path for the binary (\"/app\")", img.Path)
	case img.Path == "/data" || strings.HasPrefix(img.Path, "/data/"):
		return fmt.Errorf("ociimage: Image.Path %q is under /data, the image's data directory: put the binary elsewhere (\"/app\")", img.Path)
	}
	return nil
}

// epoch is every file's modification time, so that the same input gives the same bytes.
var epoch = time.Unix(0, 0).UTC()

// layer packs the binary and /data into a gzipped tar; diffID is the digest of the tar
// before compression, as the image config lists it.
func (img Image) layer(bin []byte) (gz []byte, diffID digest.Digest, err error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "data/", Mode: 0o755, ModTime: epoch, Uname: "", Uid: uid(img.User), Gid: gid(img.User)}); err != nil {
		return nil, "", err
	}
	var parents []string
	for dir := path.Dir(img.Path); dir != "/"; dir = path.Dir(dir) {
		parents = append([]string{strings.TrimPrefix(dir, "/") + "/"}, parents...)
	}
	for _, p := range parents {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: p, Mode: 0o755, ModTime: epoch}); err != nil {
			return nil, "", err
		}
	}
	if err := writeFile(tw, strings.TrimPrefix(img.Path, "/"), bin, 0o755); err != nil {
		return nil, "", err
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	diffID = digest.FromBytes(raw.Bytes())
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestSpeed)
	if err != nil {
		return nil, "", err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return out.Bytes(), diffID, nil
}

func writeFile(tw *tar.Writer, name string, body []byte, mode int64) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: epoch}); err != nil {
		return err
	}
	_, err := tw.Write(body)
	return err
}

func descriptor(mediaType string, body []byte) v1.Descriptor {
	return v1.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(body), Size: int64(len(body))}
}

func blobPath(d digest.Digest) string { return "blobs/" + d.Algorithm().String() + "/" + d.Encoded() }

// tagOf is the tag of a reference ("v1" of "faultline.local/app:v1").
func tagOf(ref string) string { return ref[strings.LastIndex(ref, ":")+1:] }

// uid and gid read "uid:gid" (or "uid"); a name or nothing is 0, root.
func uid(user string) int { n, _ := numbers(user); return n }
func gid(user string) int { _, n := numbers(user); return n }

func numbers(user string) (int, int) {
	u, g, found := strings.Cut(user, ":")
	var un, gn int
	if _, err := fmt.Sscanf(u, "%d", &un); err != nil {
		return 0, 0
	}
	gn = un
	if found {
		if _, err := fmt.Sscanf(g, "%d", &gn); err != nil {
			gn = un
		}
	}
	return un, gn
}
