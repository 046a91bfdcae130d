// Package envflag parses a binary's command line over defaults taken from
// environment variables, the way dxprobe and dxappliance read their
// settings: a variable that is set gives its flag a value, and the same
// flag on the command line wins.
package envflag

import (
	"flag"
	"fmt"
)

// Var names the environment variable (Env) that sets a flag (Flag). It is
// an alias of an unnamed struct, so callers write their tables as
// {"workers", "PROBE_WORKERS"}.
type Var = struct{ Flag, Env string }

// Parse sets each flag of vars whose variable getenv returns non-empty,
// then parses args, and refuses positional arguments. Its errors are one
// line naming the variable or the flag, for the binary to print.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string, vars []Var) error {
	for _, v := range vars {
		if s := getenv(v.Env); s != "" {
			if err := fs.Set(v.Flag, s); err != nil {
				return fmt.Errorf("environment %s=%q: %v", v.Env, s, err)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}
