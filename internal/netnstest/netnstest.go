// Package netnstest is the gate, the command runner and the host addresses
// of the tests that build network namespaces, veth pairs and tunnel devices
// with iproute2.
//
// Every such change goes through the kernel's RTNL lock. A kernel that
// oopses while holding it (this project's dev VM did, on an
// `ip route … encap ip … geneve_opts` against a kernel built without
// Geneve) never answers rtnetlink again until it reboots, and every later
// `ip` command sleeps uninterruptibly. Require therefore checks that
// rtnetlink answers before a test starts, and Run bounds every command:
// a test skips, or fails, with a line saying why, instead of hanging the
// whole `go test` run until its timeout. A command that does not answer in
// time is abandoned, not waited for: a process asleep in the kernel cannot
// be killed, and the test binary exits without it.
package netnstest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Timeout bounds each iproute2 command. Creating a namespace or a device
// takes milliseconds; a command still running after this waits for a lock
// that will not come.
const Timeout = 20 * time.Second

var (
	gateOnce sync.Once
	gateErr  error
)

// Require skips t unless the test can build network namespaces here: root,
// iproute2 installed, and a kernel whose rtnetlink answers (checked once
// per test binary with `ip link show lo`).
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces (skipped: not root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip from iproute2 (skipped: not installed)")
	}
	gateOnce.Do(func() {
		_, gateErr = run(5*time.Second, "link", "show", "lo")
	})
	if gateErr != nil {
		t.Skipf("the kernel's rtnetlink does not answer, so no namespace can be built (a kernel oops may hold the RTNL lock until reboot; see dmesg): %v", gateErr)
	}
}

// Run runs `ip args…` within Timeout and fails t with the command's output
// when it fails or does not answer.
func Run(t testing.TB, args ...string) {
	t.Helper()
	if out, err := run(Timeout, args...); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Try runs `ip args…` within Timeout and returns its combined output and
// error, for commands whose failure the test handles (cleanup, optional
// features).
func Try(args ...string) ([]byte, error) { return run(Timeout, args...) }

func run(timeout time.Duration, args ...string) ([]byte, error) {
	cmd := exec.Command("ip", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.Bytes(), err
	case <-time.After(timeout):
		_ = cmd.Process.Kill() // takes effect if the kernel ever lets go
		return nil, fmt.Errorf("no answer within %s", timeout)
	}
}
