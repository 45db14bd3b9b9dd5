//go:build !unix

package docker

// processAlive cannot tell here, so every other run counts as alive and Reap keeps it.
func processAlive(int, int64) bool { return true }
