package mototest

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// Shared moto_servers: starting moto_server costs a Python interpreter's
// start (1–2 s of CPU), more than most tests spend in it. A test binary
// therefore keeps a few servers for its whole life, and gives each test an
// AWS account of its own on one of them: moto keeps every account's
// resources apart (it reads the account from the x-moto-account-id header,
// which SharedProxy's proxy sets on every request), so tests that share a
// server see only their own resources and may run in parallel. One server
// is one Python process, which computes on one core at a time: the pool
// has as many as the test binary has CPUs (GOMAXPROCS), at most
// maxShared.

// maxShared bounds the pool of shared servers.
const maxShared = 4

// motoAccountHeader is the request header moto 5 takes the account ID
// from (moto/core/responses.py, get_current_account).
const motoAccountHeader = "X-Moto-Account-Id"

// DefaultAccount is the account moto answers for when a request names
// none.
const DefaultAccount = "123456789012"

var (
	sharedMu   sync.Mutex
	shared     []*Server
	sharedNext int
	accounts   atomic.Uint64
)

// SharedProxy starts a MirrorProxy in front of one of the test binary's
// shared moto_servers (started on first use), in a fresh AWS account, and
// stops the proxy when the test ends. Tests that use it see only their
// own resources and may call t.Parallel. A test that needs a server of
// its own (Server.Reset, Stop or Restart act on every account) uses
// Launch and StartMirrorProxy instead.
func SharedProxy(t testing.TB) *MirrorProxy {
	t.Helper()
	s := sharedServer(t)
	p, err := NewMirrorProxy(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	p.account = NewAccount() // before it serves: ServeHTTP reads it unlocked
	serve(t, p)
	return p
}

// NewAccount returns an AWS account ID no other caller in this process
// has been given, and that is not DefaultAccount.
func NewAccount() string {
	return fmt.Sprintf("%012d", 200000000000+accounts.Add(1))
}

// sharedServer returns the pool's servers in turn, starting each on first
// use.
func sharedServer(t testing.TB) *Server {
	t.Helper()
	bin := motoServer(t)
	sharedMu.Lock()
	defer sharedMu.Unlock()
	size := min(runtime.GOMAXPROCS(0), maxShared)
	if len(shared) < size {
		s, err := launchKept(bin)
		if err != nil {
			t.Fatalf("start shared moto_server: %v", err)
		}
		shared = append(shared, s)
		return s
	}
	s := shared[sharedNext%len(shared)]
	sharedNext++
	return s
}

// launchKept starts a server that outlives the test that asked for it. On
// Linux the server is killed when the thread that started it exits
// (Pdeathsig): it is started from a goroutine locked to its thread, which
// waits for the server's end, so the thread lives as long as the server or
// the process.
func launchKept(bin string) (*Server, error) {
	type result struct {
		s   *Server
		err error
	}
	ch := make(chan result)
	go func() {
		runtime.LockOSThread()
		s, err := launch(bin)
		ch <- result{s, err}
		if err == nil {
			<-s.done
		}
	}()
	r := <-ch
	return r.s, r.err
}

// StopShared stops the shared servers; a TestMain calls it after m.Run.
// (On Linux they also end with the test process.)
func StopShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	for _, s := range shared {
		s.Stop()
	}
	shared = nil
}
