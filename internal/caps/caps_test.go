package caps

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseStatus(t *testing.T) {
	for _, c := range []struct {
		status  string
		want    Set
		wantErr bool
	}{
		{"Name:\tdxappliance\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n", 0x1ffffffffff, false}, // root
		{"CapEff:\t0000000000002000\n", 1 << NetRaw, false},                                                  // the systemd unit's CAP_NET_RAW only
		{"CapEff:\t0000000000000000\n", 0, false},                                                            // an ordinary user
		{"CapEff:\tzz\n", 0, true},
		{"Name:\tx\n", 0, true},
	} {
		got, err := ParseStatus([]byte(c.status))
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("ParseStatus(%q) = %#x, %v; want %#x, error %v", c.status, got, err, c.want, c.wantErr)
		}
	}
}

func TestMissing(t *testing.T) {
	s := Set(1 << NetRaw)
	got := s.Missing(NetRaw, NetBindService, NetAdmin)
	if diff := cmp.Diff([]Cap{NetBindService, NetAdmin}, got); diff != "" {
		t.Error(diff)
	}
	if NetBindService.String() != "CAP_NET_BIND_SERVICE" || Cap(40).String() != "CAP_40" {
		t.Error(NetBindService, Cap(40))
	}
}
