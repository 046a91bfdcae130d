// Package testbin builds the reference binaries that the end-to-end tests
// run as real processes.
//
// A test binary that links dxprobe or dxappliance afresh in a temporary
// folder spends one to two seconds of CPU on the linker every run, even
// when nothing changed. Build links into a folder of the user's cache
// instead, one per package directory, so that go build finds the binary
// there up to date and leaves it alone: it compares the build ID it would
// produce with the one in the file, so a change to any source, flag or
// toolchain still links anew.
package testbin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build builds the main package in the current directory (a test runs in
// its package's directory) as name, and returns the binary's path. The
// binary stays in the user's cache directory (os.UserCacheDir), in
// dxmon-testbin/ and a folder named after the package directory's path;
// where there is no cache directory, it goes to a new temporary folder
// that the caller's remove deletes. Two test runs of one checkout at once
// share the file; go build replaces it only when it changed.
func Build(name string) (bin string, remove func(), err error) {
	pkg, err := os.Getwd()
	if err != nil {
		return "", nil, fmt.Errorf("testbin: package directory: %w", err)
	}
	remove = func() {}
	dir, err := cacheDir(pkg)
	if err != nil {
		if dir, err = os.MkdirTemp("", name+"-test"); err != nil {
			return "", nil, fmt.Errorf("testbin: folder for %s: %w", name, err)
		}
		tmp := dir
		remove = func() { os.RemoveAll(tmp) }
	}
	bin = filepath.Join(dir, name)
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		remove()
		return "", nil, fmt.Errorf("testbin: go build -o %s in %s: %v\n%s", bin, pkg, err, out)
	}
	return bin, remove, nil
}

// cacheDir returns (creating it) the cache folder for the package
// directory pkg.
func cacheDir(pkg string) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(pkg))
	dir := filepath.Join(base, "dxmon-testbin", filepath.Base(pkg)+"-"+hex.EncodeToString(sum[:8]))
	return dir, os.MkdirAll(dir, 0o755)
}
