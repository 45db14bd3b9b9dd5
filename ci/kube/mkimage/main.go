// Command mkimage writes a one-layer OCI image of a static binary as an image-layout tar
// (harness/ociimage), for `ctr images import`. ci/kube.sh packs the node's pause image
// with it:
//
//	mkimage -name registry.k8s.io/pause:3.10 -binary bin/pause -path /pause -o pause.tar
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/faultline/faultline/harness/ociimage"
)

func main() {
	var img ociimage.Image
	flag.StringVar(&img.Name, "name", "", "the reference to import the image as (with a tag)")
	flag.StringVar(&img.Binary, "binary", "", "the static executable to pack")
	flag.StringVar(&img.Path, "path", "/app", "where the binary lives in the image, and its entrypoint")
	flag.StringVar(&img.User, "user", "", "the user the image runs as (uid:gid); empty is root")
	out := flag.String("o", "", "the tar to write")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "mkimage: -o is empty: give the path of the tar to write")
		os.Exit(2)
	}
	if err := write(*out, img); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func write(out string, img ociimage.Image) error {
	f, err := os.Create(out + ".tmp")
	if err != nil {
		return err
	}
	if _, err := ociimage.Write(f, img); err != nil {
		f.Close()
		os.Remove(out + ".tmp")
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(out+".tmp", out)
}
