package ociimage_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/faultline/faultline/harness/ociimage"
)

// files reads a tar into name → bytes.
func files(t *testing.T, r io.Reader) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = b
	}
}

// blob reads a blob by digest and checks that its bytes hash to it.
func blob(t *testing.T, fs map[string][]byte, d v1.Descriptor) []byte {
	t.Helper()
	b, ok := fs["blobs/sha256/"+d.Digest.Encoded()]
	if !ok {
		t.Fatalf("no blob %s in the layout", d.Digest)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != d.Digest.Encoded() || int64(len(b)) != d.Size {
		t.Fatalf("blob %s: its bytes hash to %x (%d bytes), the descriptor says %d bytes", d.Digest, sum, len(b), d.Size)
	}
	return b
}

func TestWriteMakesAnImageLayoutContainerdImports(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "svc")
	if err := os.WriteFile(bin, []byte("#!not really an executable"), 0o755); err != nil {
		t.Fatal(err)
	}
	img := ociimage.Image{Name: "faultline.local/svc:abc", Binary: bin, Path: "/app", User: "65534:65534", StopSignal: "SIGQUIT"}
	var first, second bytes.Buffer
	d1, err := ociimage.Write(&first, img)
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := ociimage.Write(&second, img)
	if d1 != d2 || !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Fatalf("the same image written twice differs: %s and %s", d1, d2)
	}

	fs := files(t, &first)
	if !strings.Contains(string(fs["oci-layout"]), `"imageLayoutVersion":"1.0.0"`) {
		t.Errorf("oci-layout = %s", fs["oci-layout"])
	}
	var index v1.Index
	if err := json.Unmarshal(fs["index.json"], &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json = %s (%v): want one manifest", fs["index.json"], err)
	}
	md := index.Manifests[0]
	if md.Digest != d1 || md.Annotations["io.containerd.image.name"] != img.Name || md.Annotations[v1.AnnotationRefName] != "abc" {
		t.Errorf("index entry = %+v: want digest %s named %s, tag abc", md, d1, img.Name)
	}
	var manifest v1.Manifest
	if err := json.Unmarshal(blob(t, fs, md), &manifest); err != nil || len(manifest.Layers) != 1 {
		t.Fatalf("manifest: %v, %d layers; want one", err, len(manifest.Layers))
	}
	var config v1.Image
	if err := json.Unmarshal(blob(t, fs, manifest.Config), &config); err != nil {
		t.Fatal(err)
	}
	if c := config.Config; len(c.Entrypoint) != 1 || c.Entrypoint[0] != "/app" || c.User != "65534:65534" || c.StopSignal != "SIGQUIT" {
		t.Errorf("image config = %+v: want entrypoint /app, user 65534:65534, stop signal SIGQUIT", c)
	}

	zr, err := gzip.NewReader(bytes.NewReader(blob(t, fs, manifest.Layers[0])))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(zr)
	sum := sha256.Sum256(raw)
	if len(config.RootFS.DiffIDs) != 1 || config.RootFS.DiffIDs[0].Encoded() != hex.EncodeToString(sum[:]) {
		t.Errorf("diff id %v is not the uncompressed layer's digest %x", config.RootFS.DiffIDs, sum)
	}
	layer := files(t, bytes.NewReader(raw))
	if string(layer["app"]) != "#!not really an executable" {
		t.Errorf("layer holds %v: want the binary at app", keys(layer))
	}
	if _, ok := layer["data/"]; !ok {
		t.Errorf("layer holds %v: want the data directory", keys(layer))
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestWriteNamesTheFieldThatIsWrong(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "svc")
	os.WriteFile(bin, []byte("x"), 0o755)
	for _, tc := range []struct {
		name string
		img  ociimage.Image
		want string
	}{
		{"no tag", ociimage.Image{Name: "faultline.local/svc", Binary: bin, Path: "/app"}, "Image.Name"},
		{"no binary", ociimage.Image{Name: "svc:1", Path: "/app"}, "Image.Binary"},
		{"relative path", ociimage.Image{Name: "svc:1", Binary: bin, Path: "app"}, "Image.Path"},
		{"under data", ociimage.Image{Name: "svc:1", Binary: bin, Path: "/data/app"}, "Image.Path"},
		{"missing binary", ociimage.Image{Name: "svc:1", Binary: bin + ".gone", Path: "/app"}, "read the binary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ociimage.Write(io.Discard, tc.img)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Write = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
