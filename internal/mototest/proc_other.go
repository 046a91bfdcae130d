//go:build !linux

package mototest

import "os/exec"

func ownGroup(*exec.Cmd) {}

func killTree(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
