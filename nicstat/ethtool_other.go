//go:build !linux

package nicstat

import "fmt"

func ethtoolStats(dev string) ([]Stat, error) {
	return nil, fmt.Errorf("nicstat: driver statistics of %s: SIOCETHTOOL is Linux only: %w", dev, ErrNotSupported)
}
