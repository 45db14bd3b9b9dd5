//go:build !linux

package etcdtest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }

// stopped cannot tell off Linux; it trusts the signal.
func stopped(int) bool { return true }
