package fabric_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dxmon/dxmon/fabric"
)

// FuzzConfig: any configuration file is parsed or rejected with an error,
// never a panic; an accepted configuration validates.
func FuzzConfig(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "config", "dx-monitor.conf")); err == nil {
		f.Add(string(b))
	}
	f.Add("VPC_ID=vpc-1\nVPC_CIDR=10.0.0.0/16\nONPREM_CIDRS=172.16.0.0/12, 192.168.0.0/16\n")
	f.Add("export A='x'\n# comment\nB=\"y z\"\n=\n")
	f.Fuzz(func(t *testing.T, text string) {
		kv, err := fabric.ReadKeyValues(strings.NewReader(text))
		if err != nil {
			return
		}
		cfg, err := fabric.ParseConfig(kv)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted what Validate rejects: %v\n%q", err, text)
		}
	})
}
