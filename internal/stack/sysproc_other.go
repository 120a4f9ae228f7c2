//go:build !linux

package stack

import "syscall"

// childSysProcAttr puts a service in its own process group (Pdeathsig exists only on Linux).
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
