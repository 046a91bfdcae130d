package mototest

import (
	"os/exec"
	"syscall"
)

// ownGroup starts moto_server in a process group of its own, killed with
// the test process if that dies first.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killTree kills moto_server and anything it forked (werkzeug may).
func killTree(cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
