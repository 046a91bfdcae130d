package fabric

import (
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// TestELFArchOfRealBuilds: go build of a trivial program for linux/arm64
// and linux/amd64 gives arm64 and x86_64, EC2's architecture names.
func TestELFArchOfRealBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module tiny\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for goarch, want := range map[string]string{"arm64": "arm64", "amd64": "x86_64"} {
		out := filepath.Join(dir, goarch)
		cmd := exec.Command(goBin, "build", "-o", out, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=-trimpath")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", goarch, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := ELFArch(b); err != nil || got != want {
			t.Errorf("ELFArch(linux/%s build) = %q, %v; want %q", goarch, got, err, want)
		}
	}
}

func TestELFArch(t *testing.T) {
	cases := map[string]struct {
		b    []byte
		want string
		err  string
	}{
		"arm64":        {elfHeader(elf.EM_AARCH64, elf.ELFOSABI_NONE), "arm64", ""},
		"x86_64 linux": {elfHeader(elf.EM_X86_64, elf.ELFOSABI_LINUX), "x86_64", ""},
		"freebsd":      {elfHeader(elf.EM_AARCH64, elf.ELFOSABI_FREEBSD), "", "an ELF file for ELFOSABI_FREEBSD, not linux"},
		"script":       {[]byte("#!/bin/sh\n"), "", "not an ELF file"},
		"empty":        {nil, "", "not an ELF file"},
		"truncated":    {elfHeader(elf.EM_AARCH64, elf.ELFOSABI_NONE)[:20], "", "not an ELF file"},
	}
	for name, c := range cases {
		got, err := ELFArch(c.b)
		if got != c.want || (c.err == "") != (err == nil) || (err != nil && err.Error() != c.err) {
			t.Errorf("%s: ELFArch = %q, %v; want %q, %q", name, got, err, c.want, c.err)
		}
	}
}

// FuzzELFArch: hostile files never panic and never give an architecture
// with an error.
func FuzzELFArch(f *testing.F) {
	f.Add(elfHeader(elf.EM_AARCH64, elf.ELFOSABI_NONE))
	f.Add([]byte("\x7fELF"))
	f.Fuzz(func(t *testing.T, b []byte) {
		arch, err := ELFArch(b)
		if (err == nil) == (arch == "") {
			t.Fatalf("ELFArch = %q, %v", arch, err)
		}
	})
}

func TestUnhealthyTargets(t *testing.T) {
	have := []TargetState{
		{ID: "i-1", State: "healthy"},
		{ID: "i-2", State: "initial", Reason: "Elb.RegistrationInProgress", Description: "Target registration is in progress"},
		{ID: "i-3", State: "unhealthy", Reason: "Target.FailedHealthChecks"},
		{ID: "i-9", State: "unhealthy"}, // not wanted: ignored
	}
	got := UnhealthyTargets([]string{"i-1", "i-2", "i-3", "i-4"}, have)
	want := []string{"i-2 initial (Elb.RegistrationInProgress: Target registration is in progress)", "i-3 unhealthy (Target.FailedHealthChecks)", "i-4 not registered"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	// Property: empty exactly when every wanted ID is registered healthy.
	rapid.Check(t, func(rt *rapid.T) {
		states := []string{"healthy", "initial", "unhealthy", "unused", "draining"}
		var want []string
		var have []TargetState
		allOK := true
		for i := range rapid.IntRange(0, 5).Draw(rt, "n") {
			id := "i-" + string(rune('a'+i))
			want = append(want, id)
			if rapid.Bool().Draw(rt, "registered") {
				s := rapid.SampledFrom(states).Draw(rt, "state")
				have = append(have, TargetState{ID: id, State: s})
				allOK = allOK && s == "healthy"
			} else {
				allOK = false
			}
		}
		if got := UnhealthyTargets(want, have); (len(got) == 0) != allOK {
			rt.Fatalf("UnhealthyTargets(%v, %v) = %v", want, have, got)
		}
	})
}

func TestEnvFileQuoting(t *testing.T) {
	got := string(EnvFile(map[string]string{"B": `a "quoted" \ value`, "A": "plain"}))
	want := "# written by dxdeploy from dx-monitor.conf; replaced on every deployment\nA=\"plain\"\nB=\"a \\\"quoted\\\" \\\\ value\"\n"
	if got != want {
		t.Fatalf("EnvFile:\n%s\nwant:\n%s", got, want)
	}
}

func TestInstallScript(t *testing.T) {
	s := strings.Join(InstallScript("bkt", "dxappliance", "0123456789abcdef", "/usr/local/bin/dxappliance", "/etc/dxmon/dxappliance.env"), "\n")
	for _, want := range []string{
		"aws s3 cp s3://bkt/dxappliance/0123456789abcdef/dxappliance.env \"$tmp/dxappliance.env\"",
		"install -m 0600 -o root -g root \"$tmp/dxappliance.env\" /etc/dxmon/dxappliance.env.new && mv -f /etc/dxmon/dxappliance.env.new /etc/dxmon/dxappliance.env",
		"install -m 0755 \"$tmp/dxappliance\" /usr/local/bin/dxappliance.new && mv -f /usr/local/bin/dxappliance.new /usr/local/bin/dxappliance",
		"install -m 0644 \"$tmp/dxappliance.service\" /etc/systemd/system/dxappliance.service",
		"systemctl restart dxappliance",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
}

// TestVersionCoversEnv: the version changes with any of binary, unit or
// environment, and the secret never shows in the version or the script.
func TestVersionCoversEnv(t *testing.T) {
	dir := t.TempDir()
	bin, unit := filepath.Join(dir, "b"), filepath.Join(dir, "u")
	_ = os.WriteFile(bin, elfHeader(elf.EM_AARCH64, elf.ELFOSABI_NONE), 0o644)
	_ = os.WriteFile(unit, []byte("[Service]\n"), 0o644)
	f := newFakeCloud()
	d := fakeDeployer(t, f, bin, unit)
	a1, err := d.probeComponent().read()
	if err != nil {
		t.Fatal(err)
	}
	d.cfg.SlackWebhookURL = "https://hooks.example/SECRET"
	a2, err := d.probeComponent().read()
	if err != nil {
		t.Fatal(err)
	}
	if a1.version == a2.version || !strings.Contains(string(a2.env), "SECRET") {
		t.Fatalf("versions %s %s; env %s", a1.version, a2.version, a2.env)
	}
	if s := strings.Join(DeployScript("b", a2.version), "\n"); strings.Contains(s, "SECRET") {
		t.Fatalf("script shows the secret: %s", s)
	}
}

// fakeSSMSeq is an SSM that refuses SendCommand n times with
// InvalidInstanceId and then reports the command Failed with stderr.
type fakeSSMSeq struct {
	fakeSSM
	refuse int
	sent   int
}

func (s *fakeSSMSeq) SendCommand(ctx context.Context, in *ssm.SendCommandInput, o ...func(*ssm.Options)) (*ssm.SendCommandOutput, error) {
	s.sent++
	if s.sent <= s.refuse {
		return nil, &smithy.GenericAPIError{Code: "InvalidInstanceId", Message: "Instances not in a valid state"}
	}
	return &ssm.SendCommandOutput{Command: &ssmtypes.Command{CommandId: aws.String("cmd-1")}}, nil
}

func (s *fakeSSMSeq) GetCommandInvocation(context.Context, *ssm.GetCommandInvocationInput, ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error) {
	return &ssm.GetCommandInvocationOutput{Status: ssmtypes.CommandInvocationStatusFailed, ResponseCode: 127,
		StandardErrorContent: aws.String(strings.Repeat("x", 3000) + "aws: command not found")}, nil
}

// TestSendCommandRetriesThenStderr (fake): n InvalidInstanceId answers give
// n Waiting events and one command; a failed command's error ends with the
// last maxStderr bytes of its standard error.
func TestSendCommandRetriesThenStderr(t *testing.T) {
	f := newFakeCloud()
	d := fakeDeployer(t, f, "", "")
	seq := &fakeSSMSeq{fakeSSM: fakeSSM{f}, refuse: 4}
	d.c.SSM = seq
	var events []Event
	d.opt.Observer = func(e Event) { events = append(events, e) }
	r := &run{d: d, stage: StageDeploy, env: &env{}}
	id, err := r.sendCommand(context.Background(), "probe-deployment", []string{"i-1"}, &ssm.SendCommandInput{InstanceIds: []string{"i-1"}})
	if err != nil || id != "cmd-1" || seq.sent != 5 {
		t.Fatalf("sendCommand = %q, %v after %d sends", id, err, seq.sent)
	}
	waits := 0
	for _, e := range events {
		if e.Action == Waiting {
			waits++
		}
	}
	if waits != 4 {
		t.Fatalf("%d waiting events, want 4", waits)
	}
	err = r.waitCommand(context.Background(), "probe-deployment", "cmd-1", []string{"i-1"})
	if err == nil || !strings.HasSuffix(err.Error(), "aws: command not found") || !strings.Contains(err.Error(), "Failed (exit 127): …") ||
		len(err.Error()) > maxStderr+200 {
		t.Fatalf("waitCommand error = %.300v…", err)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		t.Fatalf("error wraps an API error, want the stderr: %v", err)
	}
}
