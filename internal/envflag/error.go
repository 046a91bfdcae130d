package envflag

import (
	"flag"
	"fmt"
	"strings"
	"time"
)

// Error is a bad setting, printed as one line.
type Error struct {
	Flag     string // the flag's name, without "-"
	Env      string // its environment variable, "" if none
	FromEnv  bool   // the value came from Env
	Value    string // the value given (not for secret flags)
	HasValue bool   // Value is shown
	Want     string // what is expected, "want …"
	Msg      string // the whole line, for errors about no one flag
}

// Error returns "-flag VALUE (env VAR): want …", or "VAR=VALUE (flag
// -flag): want …" when the variable gave the value.
func (e *Error) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	var b strings.Builder
	switch {
	case e.FromEnv:
		b.WriteString(e.Env)
		if e.HasValue {
			fmt.Fprintf(&b, "=%q", e.Value)
		}
		fmt.Fprintf(&b, " (flag -%s)", e.Flag)
	default:
		b.WriteString("-" + e.Flag)
		if e.HasValue {
			fmt.Fprintf(&b, " %q", e.Value)
		}
		if e.Env != "" {
			fmt.Fprintf(&b, " (env %s)", e.Env)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Want)
	return b.String()
}

// want says in words what a flag of v's type takes. err is the refusal of
// a Value of the caller's own type, whose message is then its words.
func want(v flag.Value, err error) string {
	if r, ok := v.(*valueRecorder); ok {
		v = r.Value
	}
	g, ok := v.(flag.Getter)
	if ok {
		switch g.Get().(type) {
		case bool:
			return "want true or false"
		case int, int64:
			return "want a whole number"
		case uint, uint64:
			return "want a whole number, 0 or more"
		case float64:
			return "want a number, such as 0.5, 1e9 or 500000"
		case time.Duration:
			return "want a duration, such as 300ms, 5s or 2m"
		case string:
			return "want a string"
		}
	}
	if err != nil {
		return "want " + strings.TrimPrefix(err.Error(), "want ")
	}
	return "want a valid value"
}
