package mototest

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestPreludeSameAnswers answers the requests fabric makes most (EC2,
// ELBv2 and IAM reads, and an error) with moto as it is and again after
// the prelude's memos, in one Python process, and requires the same bytes
// (request IDs aside). A memo that answered wrongly would show: with the
// response classes' method names memoized as empty, moto implements no
// action and the check fails.
func TestPreludeSameAnswers(t *testing.T) {
	t.Parallel()
	py := interpreter(motoServer(t))
	if py == "" {
		t.Skip("moto_server is not a Python script with an absolute #! interpreter: the prelude is not used")
	}
	prelude, err := filepath.Abs("moto_prelude.py")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, filepath.Join("testdata", "prelude_check.py"), prelude).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s testdata/prelude_check.py: %v\n%s", py, err, stderr)
	}
	var got struct {
		Compared int      `json:"compared"`
		Differ   []string `json:"differ"`
		Bytes    int      `json:"bytes"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("check script printed %q: %v", out, err)
	}
	if len(got.Differ) != 0 {
		t.Fatalf("the prelude's memos changed moto's answers to %v", got.Differ)
	}
	if got.Compared < 19 || got.Bytes < 20000 {
		t.Fatalf("compared %d answers, %d bytes: the check script did not exercise moto", got.Compared, got.Bytes)
	}
}
