package nicstat

import (
	"errors"
	"fmt"
	"os"
)

// defaultRouteDevice reads /proc/net/route, then /proc/net/ipv6_route.
func defaultRouteDevice() (string, error) {
	var errs []error
	for _, t := range []struct {
		path  string
		parse func(f *os.File) (string, error)
	}{
		{"/proc/net/route", func(f *os.File) (string, error) { return parseRoute4(f) }},
		{"/proc/net/ipv6_route", func(f *os.File) (string, error) { return parseRoute6(f) }},
	} {
		f, err := os.Open(t.path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		dev, err := t.parse(f)
		f.Close()
		if err == nil {
			return dev, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", t.path, err))
	}
	return "", fmt.Errorf("nicstat: no interface holds a default route (choose one with -nic): %w", errors.Join(errs...))
}
