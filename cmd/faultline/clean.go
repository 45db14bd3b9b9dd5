package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/runtime/docker"
	"github.com/faultline/faultline/harness/runtime/kubernetes"
)

func cmdClean(ctx context.Context, args []string) int {
	fs := newFlagSet("clean", "Remove every container and network labelled as faultline's, whatever run made it\n"+
		"and whether or not it is still alive, and, where $KUBECONFIG's cluster answers, every namespace\n"+
		"labelled as a faultline run's. Images are kept: they are a cache.")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	code := 0
	actx, cancel := context.WithTimeout(ctx, 3*time.Second)
	ok := docker.Available(actx)
	cancel()
	if !ok {
		fmt.Println("clean: no Docker engine answers: no container to remove")
	} else if n, err := docker.CleanAll(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "faultline clean: removed %d, then: %v\n", n, err)
		code = 1
	} else {
		fmt.Printf("clean: removed %d faultline container(s) and network(s); none left\n", n)
	}
	kopts := []kubernetes.Option{kubernetes.WithContext(os.Getenv(harness.KubeContextEnv))}
	kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	kerr := kubernetes.Check(kctx, kopts...)
	cancel()
	if kerr != nil {
		fmt.Println("clean: no Kubernetes cluster answers ($KUBECONFIG): no namespace to remove")
		return code
	}
	n, err := kubernetes.CleanAll(ctx, kopts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "faultline clean: deleted %d faultline namespace(s), then: %v\n", n, err)
		return 1
	}
	fmt.Printf("clean: deleted %d faultline namespace(s) on the cluster; the cluster removes what they hold\n", n)
	return code
}
