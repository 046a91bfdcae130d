package envflag

import (
	"flag"
	"io"
	"testing"
)

func TestParse(t *testing.T) {
	env := map[string]string{"N": "3", "S": "from-env"}
	cases := []struct {
		args    []string
		env     map[string]string
		n       int
		s       string
		wantErr string
	}{
		{nil, env, 3, "from-env", ""},
		{[]string{"-n", "5"}, env, 5, "from-env", ""},                               // the command line wins
		{nil, map[string]string{"N": "x"}, 0, "", `environment N="x": parse error`}, // names the variable
		{[]string{"extra"}, nil, 0, "", `unexpected argument "extra"`},
	}
	for _, c := range cases {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		n := fs.Int("n", 0, "")
		s := fs.String("s", "", "")
		err := Parse(fs, c.args, func(k string) string { return c.env[k] }, []Var{{"n", "N"}, {"s", "S"}})
		switch {
		case c.wantErr != "":
			if err == nil || err.Error() != c.wantErr {
				t.Errorf("%v %v: error %v, want %q", c.args, c.env, err, c.wantErr)
			}
		case err != nil:
			t.Errorf("%v: %v", c.args, err)
		case *n != c.n || *s != c.s:
			t.Errorf("%v: n=%d s=%q, want %d %q", c.args, *n, *s, c.n, c.s)
		}
	}
}
