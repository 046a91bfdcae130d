package envflag

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// newSet is a flag set of every type the binaries use.
func newSet(out io.Writer) (*flag.FlagSet, *Set) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Int("n", 0, "an int")
	fs.Uint("u", 0, "a uint")
	fs.Float64("f", 1, "a float")
	fs.Duration("d", time.Second, "a duration")
	fs.Bool("b", false, "a bool")
	fs.String("s", "", "a string")
	fs.String("secret", "", "a secret")
	return fs, New(fs, []Var{{"n", "N"}, {"u", "U"}, {"f", "F"}, {"d", "D"}, {"s", "S"}, {"secret", "SECRET"}}).Secret("secret")
}

func TestParse(t *testing.T) {
	cases := []struct {
		args    []string
		env     map[string]string
		n       int
		s       string
		wantErr string
	}{
		{nil, map[string]string{"N": "3", "S": "from-env"}, 3, "from-env", ""},
		{[]string{"-n", "5"}, map[string]string{"N": "3", "S": "from-env"}, 5, "from-env", ""}, // the command line wins
		{[]string{"-n", "5"}, map[string]string{"N": "x"}, 5, "", ""},                          // even over a bad variable
		{nil, map[string]string{"N": "x"}, 0, "", `N="x" (flag -n): want a whole number`},      // names the variable and the type
		{[]string{"-n", "x"}, nil, 0, "", `-n "x" (env N): want a whole number`},
		{[]string{"-u", "-1"}, nil, 0, "", `-u "-1" (env U): want a whole number, 0 or more`},
		{[]string{"-u", "99999999999999999999"}, nil, 0, "", `-u "99999999999999999999" (env U): want a whole number, 0 or more`},
		{[]string{"-f", "x"}, nil, 0, "", `-f "x" (env F): want a number, such as 0.5, 1e9 or 500000`},
		{nil, map[string]string{"D": "5"}, 0, "", `D="5" (flag -d): want a duration, such as 300ms, 5s or 2m`},
		{[]string{"-b=maybe"}, nil, 0, "", `-b "maybe": want true or false`},
		{[]string{"-secret", "x", "-n", "y"}, nil, 0, "", `-n "y" (env N): want a whole number`},
		{[]string{"-n"}, nil, 0, "", `-n (env N) needs a value: want a whole number`},
		{[]string{"-bogus"}, nil, 0, "", `unknown flag "-bogus" (t -h lists the flags)`},
		{[]string{`-\x`}, nil, 0, "", `unknown flag "-\\x" (t -h lists the flags)`},
		{[]string{`-%!`}, nil, 0, "", `unknown flag "-%!" (t -h lists the flags)`},
		{[]string{`---%!`}, nil, 0, "", `bad flag syntax "---%!": write flags as -name value or -name=value`},
		{[]string{"extra"}, nil, 0, "", `unexpected argument "extra": every setting is a flag (t -h lists them)`},
	}
	for _, c := range cases {
		var out bytes.Buffer
		fs, set := newSet(&out)
		err := set.Parse(c.args, func(k string) string { return c.env[k] })
		switch {
		case c.wantErr != "":
			if err == nil || err.Error() != c.wantErr {
				t.Errorf("%v %v: error %v, want %q", c.args, c.env, err, c.wantErr)
			}
		case err != nil:
			t.Errorf("%v: %v", c.args, err)
		case fs.Lookup("n").Value.String() != strconv.Itoa(c.n) || fs.Lookup("s").Value.String() != c.s:
			t.Errorf("%v: n=%s s=%s, want %d %q", c.args, fs.Lookup("n").Value, fs.Lookup("s").Value, c.n, c.s)
		}
		if out.Len() > 0 {
			t.Errorf("%v: printed %q; errors are returned, for the binary to print once", c.args, out.String())
		}
	}
}

func TestHelpWrapsErrHelp(t *testing.T) {
	var out bytes.Buffer
	_, set := newSet(&out)
	err := set.Parse([]string{"-h"}, func(string) string { return "" })
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v, want an error wrapping flag.ErrHelp", err)
	}
	if !strings.Contains(out.String(), "-n int") {
		t.Errorf("-h printed %q, want the usage", out.String())
	}
}

func TestInvalid(t *testing.T) {
	_, set := newSet(io.Discard)
	env := map[string]string{"N": "2000", "SECRET": "hunter2"}
	if err := set.Parse([]string{"-u", "7"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ got, want string }{
		{set.Invalid("n", "want 0 to 1024").Error(), `N="2000" (flag -n): want 0 to 1024`}, // from the variable: its text
		{set.Invalid("u", "want 1 to 5").Error(), `-u "7" (env U): want 1 to 5`},
		{set.Invalid("b", "want false").Error(), `-b "false": want false`},
		{set.Invalid("secret", "want an https:// URL").Error(), `SECRET (flag -secret): want an https:// URL`},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestListenFailure opens a port twice: the second listener's error, as
// net.Listen returns it, becomes words.
func TestListenFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = net.Listen("tcp", ln.Addr().String())
	if err == nil {
		t.Fatal("a second listener on a busy port opened")
	}
	if got := ListenFailure(err); got != "the address is in use by another process" {
		t.Errorf("ListenFailure(%v) = %q", err, got)
	}
	_, err = net.Listen("tcp", "192.0.2.1:0") // TEST-NET-1: on no interface here
	if err == nil {
		t.Skip("192.0.2.1 is configured on this host")
	}
	if got := ListenFailure(err); got != "no interface of this host has that address" {
		t.Errorf("ListenFailure(%v) = %q", err, got)
	}
}

func TestHostPortAndPrefixes(t *testing.T) {
	for _, c := range []struct {
		in, want string
		v4       bool
	}{
		{":4789", "", false},
		{"127.0.0.1:9100", "", true},
		{"[2001:db8::1]:9100", "", false},
		{":99999", `want a port from 0 to 65535 after the colon, not "99999"`, false},
		{":abc", `want a port from 0 to 65535 after the colon, not "abc"`, false},
		{"localhost", "want HOST:PORT or :PORT, such as :4789 or 127.0.0.1:9100", false},
		{"example.com:80", `want an IP address or nothing before the port, not "example.com"`, false},
		{"[::1]:6081", `want an IPv4 address or nothing before the port, not "::1"`, true},
	} {
		_, _, err := HostPort(c.in, c.v4)
		if got := errString(err); got != c.want {
			t.Errorf("HostPort(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"10.0.0.0/8, 2001:db8::/32", ""},
		{"10.0.0.0/33", `want CIDRs with a prefix length from 0 to 32 for IPv4; "10.0.0.0/33" has "33"`},
		{"2001:db8::/129", `want CIDRs with a prefix length from 0 to 128 for IPv6; "2001:db8::/129" has "129"`},
		{"10.0.0.0/08", `want CIDRs with a prefix length from 0 to 32 for IPv4; "10.0.0.0/08" has "08"`},
		{"10.0.0.0", `want CIDRs such as 10.0.0.0/16 or 2001:db8::/32; "10.0.0.0" has no /length`},
		{"vpc/16", `want CIDRs such as 10.0.0.0/16 or 2001:db8::/32; "vpc" is not an IP address`},
	} {
		_, err := Prefixes(c.in)
		if got := errString(err); got != c.want {
			t.Errorf("Prefixes(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// goInternals are words of Go's parsers and packages that a person
// running the binaries should never read.
var goInternals = regexp.MustCompile(`strconv|netip\.|net\.|Parse[A-Z]|parse error|invalid syntax|value out of range|flag provided|\bpanic\b|%!|\\x`)

// FuzzErrorsAreOneLineWords parses arbitrary command lines and variables:
// every error is one line, names a flag or an argument, and holds none of
// Go's internal wording.
func FuzzErrorsAreOneLineWords(f *testing.F) {
	for _, s := range [][2]string{{"-n x", ""}, {"-u 99999999999999999999", ""}, {"-f 1e999", "x"}, {"-d 5", "5"},
		{"-b=2", ""}, {"-n", ""}, {"--", "abc"}, {"-=x", ""}, {"---n 1", ""}, {"-s a b", "10.0.0.0/33"}, {"", ":99999"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, args, value string) {
		_, set := newSet(io.Discard)
		env := map[string]string{"N": value, "U": value, "F": value, "D": value}
		err := set.Parse(strings.Fields(args), func(k string) string { return env[k] })
		check := func(what string, err error) {
			if err == nil || errors.Is(err, flag.ErrHelp) {
				return
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") || goInternals.MatchString(stripQuoted(msg)) {
				t.Errorf("%s: %q", what, msg)
			}
		}
		check("Parse", err)
		for _, v := range []string{value, args} {
			if _, err := Prefixes(v); err != nil {
				check("Prefixes", set.Invalid("s", err.Error()))
			}
			if _, _, err := HostPort(v, true); err != nil {
				check("HostPort", set.Invalid("s", err.Error()))
			}
		}
	})
}

// stripQuoted removes the values an error quotes: they are the user's,
// whatever they hold.
func stripQuoted(s string) string {
	return regexp.MustCompile(`"(?:[^"\\]|\\.)*"`).ReplaceAllString(s, `""`)
}
