package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/reuseport"
)

// TestParseOptionsParsesOnce: parseOptions leaves serve nothing to parse:
// the CIDR lists (from flags or their variables), -listen's port, -wait
// and -format arrive as values.
func TestParseOptionsParsesOnce(t *testing.T) {
	env := map[string]string{"VPC_CIDR": "10.1.0.0/16, 10.2.0.0/16"}
	o, err := parseOptions([]string{"-onprem-cidrs", "192.168.7.0/16", "-listen", "127.0.0.1:4790", "-wait", "netpoll", "-format", "json"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	pfx := netip.MustParsePrefix
	if d := cmp.Diff([]netip.Prefix{pfx("192.168.0.0/16")}, o.onPrem, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("onPrem (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]netip.Prefix{pfx("10.1.0.0/16"), pfx("10.2.0.0/16")}, o.vpc, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("vpc (-want +got):\n%s", d)
	}
	if o.port != 4790 || o.wait != reuseport.WaitNetpoll || o.format != report.FormatJSON {
		t.Errorf("port %d, wait %v, format %v; want 4790, netpoll, json", o.port, o.wait, o.format)
	}
	d, err := parseOptions(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if d.port != 4789 || d.wait != reuseport.WaitDefault || d.format != report.FormatText || d.onPrem != nil || d.vpc != nil {
		t.Errorf("defaults: port %d, wait %v, format %v, onPrem %v, vpc %v", d.port, d.wait, d.format, d.onPrem, d.vpc)
	}
}

// TestWarnOptions: -vpc-cidrs alone is dropped with a warning naming its
// value; -alert-utilization without -onprem-cidrs is warned about.
func TestWarnOptions(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	o := warnOptions(options{vpcFlag: "10.1.0.0/16", vpc: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, alertUtil: 0.9}, log)
	if o.vpc != nil {
		t.Errorf("vpc %v kept without on-premises CIDRs", o.vpc)
	}
	for _, want := range []string{`filters nothing; counting all traffic" vpc_cidrs=10.1.0.0/16`, "-alert-utilization without -onprem-cidrs"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
	logs.Reset()
	both := options{onPrem: []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}, vpc: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, alertUtil: 0.9}
	if o := warnOptions(both, log); len(o.vpc) != 1 || logs.Len() != 0 {
		t.Errorf("with on-premises CIDRs: vpc %v, logs %q; want the VPC kept, no warning", o.vpc, logs.String())
	}
}

// TestLoadAWSOnlyWhenNeeded: without -enrich-vpc, -sns-topic-arn or
// -fleet the AWS configuration is not loaded.
func TestLoadAWSOnlyWhenNeeded(t *testing.T) {
	cfg, err := loadAWS(t.Context(), options{})
	if cfg != nil || err != nil {
		t.Errorf("loadAWS without AWS flags = %v, %v; want nil, nil", cfg, err)
	}
}
