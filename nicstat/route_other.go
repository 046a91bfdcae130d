//go:build !linux

package nicstat

import "fmt"

func defaultRouteDevice() (string, error) {
	return "", fmt.Errorf("nicstat: finding the default route's interface is Linux only (choose one with -nic): %w", ErrNotSupported)
}
