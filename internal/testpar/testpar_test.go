package testpar

import (
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDefault runs this test binary again with and without -test.parallel
// and reads the value the child's testing package ends up with.
func TestDefault(t *testing.T) {
	if os.Getenv("TESTPAR_CHILD") != "" {
		t.Logf("parallel=%s", flag.Lookup("test.parallel").Value)
		return
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "parallel=7"},
		{[]string{"-test.parallel", "3"}, "parallel=3"},
	} {
		args := append([]string{"-test.run", "^TestDefault$", "-test.v"}, c.args...)
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "TESTPAR_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		if !strings.Contains(string(out), c.want) {
			t.Errorf("with %v: want %s in\n%s", c.args, c.want, out)
		}
	}
}

func TestMain(m *testing.M) {
	if os.Getenv("TESTPAR_CHILD") != "" {
		Default(7)
	}
	os.Exit(m.Run())
}
