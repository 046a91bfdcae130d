package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestFormats(t *testing.T) {
	var text, js bytes.Buffer
	for _, c := range []struct {
		format string
		buf    *bytes.Buffer
	}{{Text, &text}, {JSON, &js}} {
		log, err := New(c.buf, c.format)
		if err != nil {
			t.Fatal(err)
		}
		log.Info("dxprobe listening", "addr", "127.0.0.1:4789")
		log.Debug("not at level info")
	}
	if got := text.String(); !strings.Contains(got, `level=INFO msg="dxprobe listening" addr=127.0.0.1:4789`) || strings.Count(got, "\n") != 1 {
		t.Errorf("text: %q", got)
	}
	var rec map[string]any
	if err := json.Unmarshal(js.Bytes(), &rec); err != nil || rec["msg"] != "dxprobe listening" || rec["addr"] != "127.0.0.1:4789" || rec["level"] != "INFO" {
		t.Errorf("json: %q (%v)", js.String(), err)
	}
	if _, err := New(&text, "logfmt"); err == nil || err.Error() != "want text or json" {
		t.Errorf("New(logfmt): %v", err)
	}
}
