package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/faultline/faultline/harness/runtime/docker"
)

func cmdClean(ctx context.Context, args []string) int {
	fs := newFlagSet("clean", "Remove every container and network labelled as faultline's, whatever run made it\n"+
		"and whether or not it is still alive. Images are kept: they are a cache.")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	actx, cancel := context.WithTimeout(ctx, 3*time.Second)
	ok := docker.Available(actx)
	cancel()
	if !ok {
		fmt.Println("clean: no Docker engine answers: nothing to remove")
		return 0
	}
	n, err := docker.CleanAll(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "faultline clean: removed %d, then: %v\n", n, err)
		return 1
	}
	fmt.Printf("clean: removed %d faultline container(s) and network(s); none left\n", n)
	return 0
}
