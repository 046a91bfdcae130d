package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildLinksOnlyWhatChanged: a second Build of an unchanged package
// leaves the binary alone (the same file, not linked again); a changed
// source links anew, and the new binary runs the new code.
func TestBuildLinksOnlyWhatChanged(t *testing.T) {
	cache := isolateCache(t)
	dir := t.TempDir()
	write := func(msg string) {
		src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Print(\"" + msg + "\") }\n"
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module tiny\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	write("one")
	t.Chdir(dir)

	build := func() (string, os.FileInfo) {
		t.Helper()
		bin, remove, err := Build("tiny")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(remove)
		fi, err := os.Stat(bin)
		if err != nil {
			t.Fatal(err)
		}
		return bin, fi
	}
	run := func(bin string) string {
		t.Helper()
		out, err := exec.Command(bin).Output()
		if err != nil {
			t.Fatalf("%s: %v", bin, err)
		}
		return string(out)
	}
	bin1, fi1 := build()
	if !strings.HasPrefix(bin1, cache) {
		t.Errorf("binary at %s, want it under the user's cache directory %s", bin1, cache)
	}
	// go build touches an up-to-date binary and renames a newly linked one
	// over it (its work folder and this cache are both under the
	// temporary directory): the same file means not linked again.
	bin2, fi2 := build()
	if bin2 != bin1 || !os.SameFile(fi1, fi2) {
		t.Errorf("second build of an unchanged package: %s, a new file; want %s left alone", bin2, bin1)
	}
	if got := run(bin2); got != "one" {
		t.Errorf("binary prints %q, want %q", got, "one")
	}
	write("two")
	bin3, fi3 := build()
	if os.SameFile(fi1, fi3) {
		t.Errorf("after a change %s is the same file: want it linked anew", bin3)
	}
	if got := run(bin3); got != "two" {
		t.Errorf("after a change the binary prints %q, want %q", got, "two")
	}
}

// TestBuildFailureNamesThePackage: a package that does not compile fails
// with go build's message and the folder it ran in.
func TestBuildFailureNamesThePackage(t *testing.T) {
	isolateCache(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module broken\n\ngo 1.21\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { undefined() }\n"), 0o644)
	t.Chdir(dir)
	_, _, err := Build("broken")
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "undefined") {
		t.Fatalf("Build of a broken package: %v, want an error naming %s and the compiler's complaint", err, dir)
	}
}

// isolateCache moves the user's cache directory to a temporary one for the
// test and returns it; go's own build cache stays where it is, warm.
func isolateCache(t *testing.T) string {
	t.Helper()
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Skipf("go env GOCACHE: %v", err)
	}
	t.Setenv("GOCACHE", strings.TrimSpace(string(gocache)))
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	return cache
}
