//go:build unix

package chromiumtest

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// Binary returns the path of a Chromium or Chrome binary, or "" when none
// is installed.
func Binary() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser is one headless Chromium with one page attached.
type Browser struct {
	t    *testing.T
	cmd  *exec.Cmd
	dir  string // the profile
	ws   *websocket.Conn
	mu   sync.Mutex
	next int
	wait map[int]chan message
	reqs []string // URLs the page requested, in order
	done chan struct{}
}

type message struct {
	ID     int             `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Start launches a headless Chromium (skipping the test when there is
// none) with its network log enabled, and stops it when the test ends.
func Start(t *testing.T) *Browser {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skip("no Chromium installed (apt-get install -y chromium; .ci/run does): the page's browser tests need one")
	}
	// Not t.TempDir: Chromium's helper processes may still write there
	// for a moment after they are killed, which fails its cleanup.
	dir, err := os.MkdirTemp("", "chromiumtest")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--mute-audio", "--remote-allow-origins=*",
		"--remote-debugging-port=0", "--user-data-dir="+dir, "about:blank")
	cmd.Env = append(os.Environ(), "TZ=UTC")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers die with it
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	// Chromium prints "DevTools listening on ws://…" once it listens.
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if _, ws, ok := strings.Cut(sc.Text(), "DevTools listening on "); ok {
				found <- strings.TrimSpace(ws)
			}
		}
	}()
	b := &Browser{t: t, cmd: cmd, dir: dir, wait: map[int]chan message{}, done: make(chan struct{})}
	t.Cleanup(b.close)
	var browserWS string
	select {
	case browserWS = <-found:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not open its DevTools port within 60s", bin)
	}
	// The page target's socket, from the browser's HTTP endpoint.
	host := strings.TrimPrefix(browserWS, "ws://")
	host = host[:strings.IndexByte(host, '/')]
	var targets []struct {
		Type string `json:"type"`
		WS   string `json:"webSocketDebuggerUrl"`
	}
	resp, err := http.Get("http://" + host + "/json/list")
	if err != nil {
		t.Fatalf("DevTools target list: %v", err)
	}
	err = json.NewDecoder(resp.Body).Decode(&targets)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("DevTools target list: %v", err)
	}
	for _, tg := range targets {
		if tg.Type == "page" {
			b.ws, err = websocket.Dial(tg.WS, "", "http://"+host)
			break
		}
	}
	if b.ws == nil || err != nil {
		t.Fatalf("no page target to attach to (%v): %+v", err, targets)
	}
	go b.read()
	for _, m := range []string{"Page.enable", "Network.enable", "Runtime.enable"} {
		b.Call(m, nil, nil)
	}
	return b
}

func (b *Browser) close() {
	if b.ws != nil {
		b.ws.Close()
	}
	_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL) // the group this test started
	_ = b.cmd.Wait()
	_ = os.RemoveAll(b.dir) // best effort
}

func (b *Browser) read() {
	defer close(b.done)
	for {
		var m message
		if err := websocket.JSON.Receive(b.ws, &m); err != nil {
			return
		}
		b.mu.Lock()
		if m.ID != 0 {
			if ch := b.wait[m.ID]; ch != nil {
				ch <- m
				delete(b.wait, m.ID)
			}
		} else if m.Method == "Network.requestWillBeSent" {
			var p struct {
				Request struct {
					URL string `json:"url"`
				} `json:"request"`
			}
			if json.Unmarshal(m.Params, &p) == nil {
				b.reqs = append(b.reqs, p.Request.URL)
			}
		}
		b.mu.Unlock()
	}
}

// Call sends one DevTools command and decodes its result into result
// (which may be nil). It fails the test on an error or after 60s.
func (b *Browser) Call(method string, params, result any) {
	b.t.Helper()
	if err := b.call(method, params, result); err != nil {
		b.t.Fatal(err)
	}
}

func (b *Browser) call(method string, params, result any) error {
	ch := make(chan message, 1)
	b.mu.Lock()
	b.next++
	id := b.next
	b.wait[id] = ch
	b.mu.Unlock()
	if params == nil {
		params = struct{}{}
	}
	if err := websocket.JSON.Send(b.ws, map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return fmt.Errorf("DevTools %s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("DevTools %s: %d %s", method, m.Error.Code, m.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-b.done:
		return fmt.Errorf("DevTools %s: the browser closed its socket", method)
	case <-time.After(60 * time.Second):
		return fmt.Errorf("DevTools %s: no answer within 60s", method)
	}
}

// Navigate opens url in the page.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	var r struct {
		ErrorText string `json:"errorText"`
	}
	b.Call("Page.navigate", map[string]any{"url": url}, &r)
	if r.ErrorText != "" {
		b.t.Fatalf("navigate to %s: %s", url, r.ErrorText)
	}
}

// Eval evaluates a JavaScript expression in the page and decodes its value
// (JSON-serialisable) into out.
func (b *Browser) Eval(expr string, out any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := b.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); err != nil {
		return err
	}
	if r.Exception != nil {
		return fmt.Errorf("evaluate %q: %s", expr, r.Exception.Text)
	}
	if len(r.Result.Value) == 0 {
		return fmt.Errorf("evaluate %q: undefined", expr)
	}
	return json.Unmarshal(r.Result.Value, out)
}

// WaitFor evaluates expr (which returns a boolean) until it is true, every
// 50 ms for at most limit, and fails the test with what does otherwise.
// It polls the page's observable state; it measures no time.
func (b *Browser) WaitFor(what, expr string, limit time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var last error
	for {
		var ok bool
		if last = b.Eval(expr, &ok); last == nil && ok {
			return
		}
		select {
		case <-ctx.Done():
			var text string
			_ = b.Eval("document.body ? document.body.innerText.slice(0, 2000) : ''", &text)
			b.t.Fatalf("waited %v for %s (%s): %v\npage text:\n%s", limit, what, expr, last, text)
		case <-time.After(50 * time.Millisecond): // polling the browser's state
		}
	}
}

// Requests returns the URLs the page has requested so far, in order, from
// the browser's own network log.
func (b *Browser) Requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.reqs...)
}

// SetViewport sets the page's width and height in CSS pixels (a phone is
// 390x844 with a device scale of 1 here, so screenshots stay small).
func (b *Browser) SetViewport(width, height int, mobile bool) {
	b.t.Helper()
	b.Call("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height,
		"deviceScaleFactor": 1, "mobile": mobile}, nil)
}

// Offline cuts the page off every network (file:// still loads).
func (b *Browser) Offline() {
	b.t.Helper()
	b.Call("Network.emulateNetworkConditions", map[string]any{"offline": true, "latency": 0,
		"downloadThroughput": -1, "uploadThroughput": -1}, nil)
}

// Screenshot writes a PNG of the whole page (beyond the viewport's height)
// to path and returns path.
func (b *Browser) Screenshot(path string) string {
	b.t.Helper()
	var r struct {
		Data string `json:"data"`
	}
	b.Call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &r)
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return path
}
