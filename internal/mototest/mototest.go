// Package mototest starts a private moto_server (the AWS emulator) on a free
// loopback port for tests, and stops it when the test ends.
//
// Tests that need AWS call Start (a server of their own, with the process's
// AWS environment pointed at it), Launch (a server of their own, reached
// through Config; the test may run in parallel) or SharedProxy (an AWS
// account of their own on a server the test binary shares, behind a
// MirrorProxy: no server start per test, and the test may run in
// parallel). Where moto_server is not installed the test is skipped with
// the reason, except when the environment variable CI is set to a true
// value: there a missing emulator fails the run, so that CI cannot go green
// by skipping every AWS test.
//
// The MirrorProxy (mirrorproxy.go) serves what moto lacks: the traffic
// mirror sessions and filter rules (mirrorsessions.go, mirrorrules.go,
// mirrorinuse.go, parsed by mirrorquery.go), repairs of moto's answers
// (repair.go, health.go) and CloudWatch (cloudwatch.go).
package mototest

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Region is the region every emulated client uses.
const Region = "us-east-1"

// Server is a running moto_server.
type Server struct {
	// URL is the endpoint, for example "http://127.0.0.1:40123".
	URL string
	// Addr is the host:port the server listens on.
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start launches moto_server on a free loopback port, waits until it answers,
// and registers its shutdown with t.Cleanup. It also points the process's
// AWS environment (AWS_ENDPOINT_URL, region, dummy credentials) at it through
// t.Setenv, so code that loads the SDK's default configuration reaches the
// emulator unchanged. Because of t.Setenv, tests that call Start cannot run
// in parallel with others.
func Start(t testing.TB) *Server {
	t.Helper()
	s := Launch(t)
	for _, kv := range Env(s.URL) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return s
}

// Env returns the AWS environment, as "KEY=value" entries, that points a
// child process's SDK at the emulator endpoint url (a Server's or a
// proxy's URL): endpoint, region, dummy credentials, no instance metadata
// and no configuration files. Tests that start a binary with
// exec.Cmd.Env = append(os.Environ(), Env(url)...) leave their own
// process's environment alone and may run in parallel.
func Env(url string) []string {
	return []string{
		"AWS_ENDPOINT_URL=" + url,
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
		"AWS_SESSION_TOKEN=testing",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
	}
}

// Launch starts a private moto_server like Start, but leaves the process's
// environment alone: tests that call it may run in parallel, and reach the
// server through Config.
func Launch(t testing.TB) *Server {
	t.Helper()
	s, err := launch(motoServer(t))
	if err != nil {
		t.Fatalf("start moto_server: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

var found struct {
	once sync.Once
	bin  string
	err  error
}

// motoServer returns the path of moto_server, or ends the test: skipped
// where it is not installed, failed when CI is set.
func motoServer(t testing.TB) string {
	t.Helper()
	found.once.Do(func() {
		found.bin, found.err = exec.LookPath("moto_server")
		if found.err == nil {
			found.bin = unshim(found.bin)
		}
	})
	if found.err != nil {
		if isCI() {
			t.Fatalf("moto_server not found on PATH (required in CI): %v", found.err)
		}
		t.Skipf("moto_server not installed (pip install 'moto[server]'): %v", found.err)
	}
	return found.bin
}

// unshim returns the script a pyenv shim (…/.pyenv/shims/moto_server)
// runs, asked once of pyenv: the shim costs each start of the server a few
// shell and pyenv processes (0.5–1 s of CPU). Anything else, or a pyenv
// that does not answer, is returned as it is.
func unshim(bin string) string {
	dir := filepath.Dir(bin)
	if filepath.Base(dir) != "shims" {
		return bin
	}
	out, err := exec.Command(filepath.Join(filepath.Dir(dir), "bin", "pyenv"), "which", filepath.Base(bin)).Output()
	if real := strings.TrimSpace(string(out)); err == nil && filepath.IsAbs(real) {
		return real
	}
	return bin
}

// Config returns an SDK configuration aimed at the server with dummy
// credentials, independent of the process environment.
func (s *Server) Config(t testing.TB) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(Region),
		config.WithBaseEndpoint(s.URL),
		config.WithCredentialsProvider(aws.CredentialsProviderFunc(
			func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing", Source: "mototest"}, nil
			})),
	)
	if err != nil {
		t.Fatalf("load AWS config for moto at %s: %v", s.URL, err)
	}
	return cfg
}

// Stop ends the server and waits for it to exit. It is safe to call twice;
// tests use it to simulate an AWS outage.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	killTree(s.cmd)
	<-s.done
}

// Restart starts a fresh (empty) server on the same address after Stop.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	ns, err := launchOn(motoServer(t), s.Addr)
	if err != nil {
		t.Fatalf("restart moto_server on %s: %v", s.Addr, err)
	}
	*s = *ns
}

// Reset clears every resource in the emulator (moto's reset API).
func (s *Server) Reset(t testing.TB) {
	t.Helper()
	resp, err := http.Post(s.URL+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("reset moto at %s: %v", s.URL, err)
	}
	resp.Body.Close()
}

func isCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func launch(bin string) (*Server, error) {
	var lastErr error
	for range 5 { // the free port can be taken between probe and bind
		addr, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("find free loopback port: %w", err)
		}
		s, err := launchOn(bin, addr)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func launchOn(bin, addr string) (*Server, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	cmd := serverCommand(bin, "-H", host, "-p", port)
	ownGroup(cmd)
	cmd.Stdout = nil
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec %s: %w", bin, err)
	}
	s := &Server{URL: "http://" + addr, Addr: addr, cmd: cmd, done: make(chan struct{})}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(s.URL + "/moto-api/data.json")
		if err == nil {
			resp.Body.Close()
			return s, nil
		}
		select {
		case werr := <-exited:
			return nil, fmt.Errorf("moto_server on %s exited before answering: %v", addr, werr)
		case <-time.After(50 * time.Millisecond): // polling a child process for readiness, not synchronising test logic
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("moto_server on %s did not answer within 60s: %v", addr, err)
		}
	}
}

// memoPrelude (moto_prelude.py) runs moto_server with two of moto's
// per-request lookups memoized: the list of moto's service packages (moto
// 5.2 lists its own directory and stats every entry, about 170 stat
// calls, on every request to find the request's backend) and the method
// names of a response class (inspect.getmembers on every request). Both
// are constant while the server runs, so the answers are the same
// (TestPreludeSameAnswers); a moto without these names runs as it is. It
// also drops werkzeug's line per request (the server's stderr goes
// nowhere) and runs Python's cyclic collector less often (a new account's
// EC2 backend adds about 1 200 AMI objects to the heap). It halves moto's CPU per request (2.6 → 1.2 ms for
// DescribeVpcs in-process, measured with werkzeug's test client), and moto
// is most of the test suite's CPU.
//
//go:embed moto_prelude.py
var memoPrelude string

// serverCommand returns the command that runs the moto_server script bin
// with args: through its Python interpreter with memoPrelude when the
// script names one on its #! line, else the script itself.
func serverCommand(bin string, args ...string) *exec.Cmd {
	if py := interpreter(bin); py != "" {
		return exec.Command(py, append([]string{"-c", memoPrelude}, args...)...)
	}
	return exec.Command(bin, args...)
}

// interpreter returns the absolute path of the Python interpreter on the
// script's #! line, or "".
func interpreter(script string) string {
	f, err := os.Open(script)
	if err != nil {
		return ""
	}
	defer f.Close()
	line, err := bufio.NewReader(io.LimitReader(f, 512)).ReadString('\n')
	if err != nil {
		return ""
	}
	fields := strings.Fields(strings.TrimPrefix(line, "#!"))
	if !strings.HasPrefix(line, "#!") || len(fields) != 1 || !filepath.IsAbs(fields[0]) ||
		!strings.HasPrefix(filepath.Base(fields[0]), "python") {
		return ""
	}
	return fields[0]
}
