package stack

import "syscall"

// childSysProcAttr puts a service in its own process group, so a Ctrl-C at the terminal reaches
// only chaoslab (which then stops the children in order, after the rollbacks), and asks the
// kernel to SIGKILL it if chaoslab dies, so no service outlives chaoslab however it exits.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
