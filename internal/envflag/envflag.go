// Package envflag parses a binary's command line over defaults taken from
// environment variables, the way dxprobe and dxappliance read their
// settings: a variable that is set gives its flag a value, and the same
// flag on the command line wins.
//
// Every error it returns is one line for a person: the flag, its variable,
// the value given and what is expected ("-workers \"abc\" (env
// PROBE_WORKERS): want an integer"), never the wording of Go's parsers.
// The binaries print it after their name and exit with status 2.
package envflag

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Var names the environment variable (Env) that sets a flag (Flag). It is
// an alias of an unnamed struct, so callers write their tables as
// {"workers", "PROBE_WORKERS"}.
type Var = struct{ Flag, Env string }

// Set is a flag set with the environment variables of its flags. Build it
// with New, define flags on its FlagSet first, then call Parse once.
type Set struct {
	fs      *flag.FlagSet
	env     map[string]string // flag name -> variable name
	fromEnv map[string]string // flag name -> the variable's value, when it set the flag
	secret  map[string]bool
	failed  *Error // the last value a flag refused, recorded by valueRecorder
}

// New returns the Set of fs, whose flags take defaults from vars.
func New(fs *flag.FlagSet, vars []Var) *Set {
	s := &Set{fs: fs, env: map[string]string{}, fromEnv: map[string]string{}, secret: map[string]bool{}}
	for _, v := range vars {
		s.env[v.Flag] = v.Env
	}
	return s
}

// Secret marks flags whose values must never be printed (webhook URLs,
// tokens): their errors name the flag and the variable only.
func (s *Set) Secret(flags ...string) *Set {
	for _, f := range flags {
		s.secret[f] = true
	}
	return s
}

// Parse parses args, then sets each flag that args left unset from its
// variable when getenv returns non-empty, and refuses positional
// arguments. With -h or -help it prints the usage to the FlagSet's output
// and returns an error that wraps flag.ErrHelp. Other errors are *Error
// and print nothing.
func (s *Set) Parse(args []string, getenv func(string) string) error {
	out := s.fs.Output()
	s.fs.SetOutput(io.Discard)
	s.fs.VisitAll(func(f *flag.Flag) { f.Value = &valueRecorder{Value: f.Value, set: s, name: f.Name} })
	err := s.fs.Parse(args)
	s.fs.VisitAll(func(f *flag.Flag) {
		if r, ok := f.Value.(*valueRecorder); ok {
			f.Value = r.Value
		}
	})
	s.fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		s.fs.Usage()
		return fmt.Errorf("%s: %w", s.fs.Name(), err)
	case err != nil:
		return s.parseError(err)
	case s.fs.NArg() > 0:
		return &Error{Msg: fmt.Sprintf("unexpected argument %q: every setting is a flag (%s -h lists them)", s.fs.Arg(0), s.fs.Name())}
	}
	onCommandLine := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	var errs []error
	s.fs.VisitAll(func(f *flag.Flag) {
		name := s.env[f.Name]
		if name == "" || onCommandLine[f.Name] {
			return
		}
		v := getenv(name)
		if v == "" {
			return
		}
		s.fromEnv[f.Name] = v
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, s.Invalid(f.Name, want(f.Value, err)))
		}
	})
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// parseError turns the flag package's error into an *Error.
func (s *Set) parseError(err error) error {
	if s.failed != nil {
		return s.failed
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		// What was typed, quoted: it is the user's text, not the
		// message's ("-%!" or "-\\x" would read as a formatting bug).
		return &Error{Msg: fmt.Sprintf("unknown flag %s (%s -h lists the flags)", strconv.Quote("-"+name), s.fs.Name())}
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		if f := s.fs.Lookup(name); f != nil {
			return &Error{Msg: fmt.Sprintf("-%s%s needs a value: %s", name, s.envNote(name), want(f.Value, nil))}
		}
	}
	if arg, ok := strings.CutPrefix(msg, "bad flag syntax: "); ok {
		return &Error{Msg: fmt.Sprintf("bad flag syntax %s: write flags as -name value or -name=value", strconv.Quote(arg))}
	}
	return &Error{Msg: msg}
}

// envNote is " (env VAR)" for a flag with a variable, else "".
func (s *Set) envNote(flag string) string {
	if v := s.env[flag]; v != "" {
		return " (env " + v + ")"
	}
	return ""
}

// Env returns the environment variable of flag, or "".
func (s *Set) Env(flag string) string { return s.env[flag] }

// Invalid returns the error for flag's current value, which the caller
// found wrong after Parse: "-flag VALUE (env VAR): WANT" when the value
// came from the command line or its default, "VAR=VALUE (flag -flag):
// WANT" when it came from the variable. want says what is expected, in
// words ("want 1 to 1024").
func (s *Set) Invalid(flag, want string) error {
	value := ""
	if f := s.fs.Lookup(flag); f != nil {
		value = f.Value.String()
	}
	env, fromEnv := s.fromEnv[flag]
	if fromEnv {
		value = env
	}
	return s.invalid(flag, value, fromEnv, want)
}

// Invalidf is Invalid with a formatted want.
func (s *Set) Invalidf(flag, format string, args ...any) error {
	return s.Invalid(flag, fmt.Sprintf(format, args...))
}

func (s *Set) invalid(flag, value string, fromEnv bool, want string) error {
	e := &Error{Flag: flag, Env: s.env[flag], FromEnv: fromEnv, Want: want}
	if !s.secret[flag] {
		e.Value = value
		e.HasValue = true
	}
	return e
}

// Failed returns the error for flag's value when the program could not
// use it (a listener that did not open): "-flag VALUE (env VAR): why".
func (s *Set) Failed(flag, why string) error {
	err := s.Invalid(flag, why).(*Error)
	return err
}

// valueRecorder wraps a flag's Value during Parse to record which value a
// flag refused, so that the error can say what the flag expects instead
// of the flag package's "parse error".
type valueRecorder struct {
	flag.Value
	set  *Set
	name string
}

func (r *valueRecorder) Set(v string) error {
	err := r.Value.Set(v)
	if err != nil {
		e := r.set.invalid(r.name, v, false, want(r.Value, err))
		r.set.failed = e.(*Error)
	}
	return err
}

// IsBoolFlag keeps "-flag" without a value working for boolean flags.
func (r *valueRecorder) IsBoolFlag() bool {
	b, ok := r.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// Parse is New(fs, vars).Parse(args, getenv).
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string, vars []Var) error {
	return New(fs, vars).Parse(args, getenv)
}
