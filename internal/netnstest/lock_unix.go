//go:build unix

package netnstest

import "syscall"

// lockFile takes an exclusive flock on the file at path (creating it)
// without waiting, and keeps it until the process ends: the descriptor is
// a raw one, never closed, which no finalizer closes either. It returns
// false when another process holds the lock, and the error when the file
// cannot be opened.
func lockFile(path string) (bool, error) {
	fd, err := syscall.Open(path, syscall.O_CREAT|syscall.O_RDWR|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return false, err
	}
	if syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		syscall.Close(fd)
		return false, nil
	}
	return true, nil
}
