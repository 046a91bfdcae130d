package fabric

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// One deploy path for both binaries fabric installs: dxappliance on the
// appliances (stage 02) and dxprobe on the probes (stage 08). Each is a
// component: a binary, its systemd unit and an environment file written
// from the configuration, uploaded to the artifact bucket under
// <name>/<version>/, where version hashes all three, then installed by SSM
// Run Command on every instance of the role whose version tag differs.

// TagApplianceVersion on an appliance instance records the dxappliance
// build stage 02 installed there.
const TagApplianceVersion = "dxmon:appliance-version"

// component is one binary fabric installs through S3 and SSM Run Command.
type component struct {
	name       string // "dxprobe": S3 prefix, unit name
	role       string // instance role tag: "probe", "appliance"
	from       Stage  // the stage that launches the instances
	binaryKey  string // config keys, for errors
	unitKey    string
	binaryPath string // local files
	unitPath   string
	install    string // binary path on the instance
	envFile    string // environment file on the instance
	env        []envVar
	typeKey    string // instance type and its key
	instType   string
	versionTag string
	instName   func(az string, i int) string
}

// envVar is one line of a component's environment file. Secret values are
// never put in an event or an error.
type envVar struct {
	key, value string
	secret     bool
}

func (d *Deployer) probeComponent() component {
	c := d.cfg
	var onprem []string
	for _, p := range c.OnPremCIDRs {
		onprem = append(onprem, p.String())
	}
	env := []envVar{
		{key: "AWS_REGION", value: c.Region},
		{key: "VPC_ID", value: c.VPCID},
		// dxprobe counts only on-premises <-> VPC traffic (-onprem-cidrs,
		// -vpc-cidrs): the mirror filter cannot see the inner addresses.
		{key: "VPC_CIDR", value: c.VPCCIDR.String()},
		{key: "MIRROR_VNI", value: fmt.Sprint(c.MirrorVNI)},
		{key: "ONPREM_CIDRS", value: strings.Join(onprem, ",")},
		// The unit runs -metrics :${PROBE_HEALTH_PORT}: the port the
		// NLB's health check opens (probeport.go).
		{key: "PROBE_HEALTH_PORT", value: fmt.Sprint(c.ProbeHealthPort)},
		{key: "PROBE_FLEET_TABLE", value: d.fleetTable()},
	}
	if c.SNSTopicARN != "" {
		env = append(env, envVar{key: "SNS_TOPIC_ARN", value: c.SNSTopicARN})
	}
	if c.ProbeIPFIX != "" {
		env = append(env, envVar{key: "PROBE_IPFIX", value: c.ProbeIPFIX})
	}
	if c.SlackWebhookURL != "" {
		env = append(env, envVar{key: "SLACK_WEBHOOK_URL", value: c.SlackWebhookURL, secret: true})
	}
	for k, v := range c.ProbeSettings {
		env = append(env, envVar{key: k, value: v})
	}
	return component{name: "dxprobe", role: "probe", from: StageProbes, binaryKey: "PROBE_BINARY", unitKey: "PROBE_UNIT",
		binaryPath: c.ProbeBinary, unitPath: c.ProbeUnit, install: ProbeBinaryPath, envFile: c.ProbeEnvFile, env: env,
		typeKey: "PROBE_INSTANCE_TYPE", instType: c.ProbeInstanceType, versionTag: TagProbeVersion, instName: d.probeNameN}
}

func (d *Deployer) applianceComponent() component {
	c := d.cfg
	// The appliance answers the target group's health check (TCP on
	// ApplianceHealthPort, see stage 02) and reflects Geneve on GenevePort.
	env := []envVar{
		{key: "AWS_REGION", value: c.Region},
		{key: "APPLIANCE_HEALTH_ADDR", value: fmt.Sprintf(":%d", ApplianceHealthPort)},
		{key: "APPLIANCE_HEALTH_PROTOCOL", value: "tcp"},
		{key: "APPLIANCE_LISTEN", value: fmt.Sprintf(":%d", GenevePort)},
		// On SIGTERM dxappliance fails its health check first and keeps
		// returning packets this long, past the target group's
		// deregistration delay (failover.go).
		{key: "APPLIANCE_DRAIN_DELAY", value: ApplianceDrainDelay.String()},
	}
	return component{name: "dxappliance", role: "appliance", from: StageGWLB, binaryKey: "APPLIANCE_BINARY", unitKey: "APPLIANCE_UNIT",
		binaryPath: c.ApplianceBinary, unitPath: c.ApplianceUnit, install: c.ApplianceInstallPath, envFile: c.ApplianceEnvFile, env: env,
		typeKey: "APPLIANCE_INSTANCE_TYPE", instType: c.ApplianceInstanceType, versionTag: TagApplianceVersion, instName: d.applianceNameN}
}

// EnvFile renders an environment file for systemd's EnvironmentFile=: one
// KEY="value" a line, sorted by key, values double-quoted with '\' and '"'
// escaped.
func EnvFile(vars map[string]string) []byte {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("# written by dxdeploy from dx-monitor.conf; replaced on every deployment\n")
	for _, k := range keys {
		v := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(vars[k])
		fmt.Fprintf(&b, "%s=\"%s\"\n", k, v)
	}
	return b.Bytes()
}

func (c component) envFileBody() []byte {
	m := map[string]string{}
	for _, e := range c.env {
		m[e.key] = e.value
	}
	return EnvFile(m)
}

// artifacts are the three files one deployment ships, read and hashed.
type artifacts struct {
	binary, unit, env []byte
	version           string // first 16 hex digits of sha256 over the three
}

// read reads the component's files and computes its version.
func (c component) read() (*artifacts, error) {
	if c.binaryPath == "" {
		return nil, fmt.Errorf("%s is not set (path of the %s binary to deploy)", c.binaryKey, c.name)
	}
	if c.unitPath == "" {
		return nil, fmt.Errorf("%s is not set (path of %s.service)", c.unitKey, c.name)
	}
	bin, err := os.ReadFile(c.binaryPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.binaryKey, err)
	}
	unit, err := os.ReadFile(c.unitPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.unitKey, err)
	}
	env := c.envFileBody()
	h := sha256.New()
	for _, part := range [][]byte{bin, unit, env} {
		fmt.Fprintf(h, "%d\x00", len(part))
		h.Write(part)
	}
	return &artifacts{binary: bin, unit: unit, env: env, version: hex.EncodeToString(h.Sum(nil))[:16]}, nil
}

// readArtifacts reads stage 08's dxprobe artifacts.
func (d *Deployer) readArtifacts() (*artifacts, error) { return d.probeComponent().read() }

// ELFArch returns the architecture of a Linux ELF executable in EC2's
// names (arm64, x86_64, i386), or an error saying what the file is instead.
func ELFArch(b []byte) (arch string, err error) {
	defer func() {
		if recover() != nil { // debug/elf on hostile input: never panic
			arch, err = "", fmt.Errorf("not a valid ELF file")
		}
	}()
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("not an ELF file")
	}
	if f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		return "", fmt.Errorf("an ELF file for %v, not linux", f.OSABI)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return "", fmt.Errorf("an ELF %v, not an executable", f.Type)
	}
	switch {
	case f.Machine == elf.EM_AARCH64 && f.Class == elf.ELFCLASS64:
		return "arm64", nil
	case f.Machine == elf.EM_X86_64 && f.Class == elf.ELFCLASS64:
		return "x86_64", nil
	case f.Machine == elf.EM_386:
		return "i386", nil
	}
	return strings.ToLower(strings.TrimPrefix(f.Machine.String(), "EM_")), nil
}

// instanceArchs returns the architectures an instance type supports
// (DescribeInstanceTypes ProcessorInfo.SupportedArchitectures).
func (d *Deployer) instanceArchs(ctx context.Context, instType string) ([]string, error) {
	out, err := d.c.EC2.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{InstanceTypes: []ec2types.InstanceType{ec2types.InstanceType(instType)}})
	if err != nil {
		return nil, err
	}
	if len(out.InstanceTypes) == 0 || out.InstanceTypes[0].ProcessorInfo == nil {
		return nil, fmt.Errorf("instance type %s not found", instType)
	}
	var archs []string
	for _, a := range out.InstanceTypes[0].ProcessorInfo.SupportedArchitectures {
		archs = append(archs, string(a))
	}
	return archs, nil
}

// checkArch fails, in one line naming the key, the file's architecture and
// the required one, unless the binary is a linux ELF the instance type runs.
func (r *run) checkArch(ctx context.Context, c component, a *artifacts) error {
	archs, err := r.d.instanceArchs(ctx, c.instType)
	if err != nil {
		return fmt.Errorf("stage %s: %s %s: %w", r.stage, c.typeKey, c.instType, err)
	}
	got, err := ELFArch(a.binary)
	if err != nil {
		return fmt.Errorf("stage %s: %s: %s is %v; %s %s needs a linux %s executable", r.stage, c.binaryKey, c.binaryPath, err,
			c.typeKey, c.instType, strings.Join(archs, " or "))
	}
	for _, want := range archs {
		if got == want {
			return nil
		}
	}
	return fmt.Errorf("stage %s: %s: %s is a linux/%s ELF; %s %s needs %s", r.stage, c.binaryKey, c.binaryPath, got,
		c.typeKey, c.instType, strings.Join(archs, " or "))
}

// InstallScript is the Run Command script that installs one version of a
// component: binary, unit and environment file (mode 0600) from
// s3://bucket/<name>/<version>/, replaced atomically, then the service
// restarted. It is safe to run again.
func InstallScript(bucket, name, version, binaryPath, envFile string) []string {
	src := "s3://" + bucket + "/" + name + "/" + version + "/"
	unit := "/etc/systemd/system/" + name + ".service"
	return []string{
		"set -euo pipefail",
		"tmp=$(mktemp -d)",
		"aws s3 cp " + src + name + " \"$tmp/" + name + "\"",
		"aws s3 cp " + src + name + ".service \"$tmp/" + name + ".service\"",
		"aws s3 cp " + src + name + ".env \"$tmp/" + name + ".env\"",
		"install -d -m 0755 " + path.Dir(envFile),
		"install -m 0600 -o root -g root \"$tmp/" + name + ".env\" " + envFile + ".new && mv -f " + envFile + ".new " + envFile,
		"install -d -m 0755 " + path.Dir(binaryPath),
		"install -m 0755 \"$tmp/" + name + "\" " + binaryPath + ".new && mv -f " + binaryPath + ".new " + binaryPath,
		"install -m 0644 \"$tmp/" + name + ".service\" " + unit,
		"rm -rf \"$tmp\"",
		"systemctl daemon-reload",
		"systemctl enable " + name,
		"systemctl restart " + name,
		"systemctl is-active " + name,
	}
}

// DeployScript is the Run Command script that installs one dxprobe version
// on a probe, with its environment file at the default path.
func DeployScript(bucket, version string) []string {
	return InstallScript(bucket, "dxprobe", version, ProbeBinaryPath, DefaultProbeEnvFile)
}

// ensureBucket finds or creates the artifact bucket and makes sure it
// carries the project tag.
func (r *run) ensureBucket(ctx context.Context) (string, error) {
	d := r.d
	bucket := d.bucket(r.env.account)
	if r.plan && !d.bucketExists(ctx, bucket) {
		if _, dup := r.creates.LoadOrStore("s3-bucket/"+bucket, true); dup {
			return bucket, nil // an earlier stage of this plan creates it
		}
	}
	_, err := r.ensure(ctx, "s3-bucket", bucket, func(ctx context.Context) (string, error) {
		_, err := d.c.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
		if isNotFound(err) {
			return "", nil
		}
		return bucket, err
	}, func(ctx context.Context) (string, error) {
		in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
		if d.cfg.Region != "us-east-1" {
			in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(d.cfg.Region)}
		}
		if _, err := d.c.S3.CreateBucket(ctx, in); err != nil && errorCode(err) != "BucketAlreadyOwnedByYou" {
			return "", err
		}
		return bucket, d.tagBucket(ctx, bucket)
	})
	if err != nil {
		return "", err
	}
	// A bucket created by a run interrupted before its tagging: it is in
	// this account under this project's name, so it is ours; tag it.
	if !r.plan || d.bucketExists(ctx, bucket) {
		tags, err := d.c.S3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(bucket)})
		if err != nil && errorCode(err) != "NoSuchTagSet" {
			return "", r.fail("s3-bucket", bucket, err)
		}
		if tags == nil || !ownedS3(tags.TagSet, d.cfg.ProjectTag) {
			if err := r.change(ctx, "s3-bucket", bucket, bucket, "tag "+TagProject+"="+d.cfg.ProjectTag, func(ctx context.Context) error {
				return d.tagBucket(ctx, bucket)
			}); err != nil {
				return "", err
			}
		}
	}
	return bucket, nil
}

// deploy installs a component on every live instance of its role that does
// not carry its version: check the binary's architecture against the
// instance type, upload the three files, wait for the instances to register
// with SSM, run InstallScript, wait for it, tag the version.
func (r *run) deploy(ctx context.Context, c component) error {
	d := r.d
	a, err := c.read()
	if err != nil {
		return fmt.Errorf("stage %s: %w", r.stage, err)
	}
	if err := r.checkArch(ctx, c, a); err != nil {
		return err
	}
	if c.name == "dxprobe" { // the guard (dxguard) runs on the probes too, with a unit of its own
		if err := checkProbeUnitPort(a.unit, d.cfg.ProbeHealthPort); err != nil { // probeport.go
			return fmt.Errorf("stage %s: %w", r.stage, err)
		}
	}
	bucket, err := r.ensureBucket(ctx)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		body []byte
	}{{c.name, a.binary}, {c.name + ".service", a.unit}, {c.name + ".env", a.env}} {
		key := c.name + "/" + a.version + "/" + f.name
		if _, err := r.ensure(ctx, "s3-object", "s3://"+bucket+"/"+key, func(ctx context.Context) (string, error) {
			if r.plan && !d.bucketExists(ctx, bucket) {
				return "", nil
			}
			_, err := d.c.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if isNotFound(err) {
				return "", nil
			}
			return key, err
		}, func(ctx context.Context) (string, error) {
			_, err := d.c.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(f.body)})
			return key, err
		}); err != nil {
			return err
		}
	}

	kind := c.role + "-deployment"
	detail := c.name + " " + a.version
	inst, err := d.findInstances(ctx, c.role, "")
	if err != nil {
		return r.fail(c.role+"-instance", "*", err)
	}
	if len(inst) == 0 && !(r.plan && r.planned[c.from]) {
		return fmt.Errorf("stage %s: missing prerequisite %s-instance (run stage %s first)", r.stage, c.role, c.from)
	}
	var stale []string
	for _, p := range inst {
		id := aws.ToString(p.InstanceId)
		if tagValue(p.Tags, c.versionTag) == a.version {
			r.event(kind, tagValue(p.Tags, TagName), id, Exists, detail)
		} else {
			stale = append(stale, id)
		}
	}
	if r.plan {
		for _, id := range stale {
			r.event(kind, id, id, Create, detail)
		}
		if len(inst) == 0 {
			for _, w := range r.env.workload {
				for i := 1; i <= r.perAZ(c.role); i++ {
					r.event(kind, c.instName(w.az, i), "", Create, detail)
				}
			}
		}
		return nil
	}
	if len(stale) == 0 {
		return nil
	}
	if c.role == "appliance" {
		return r.rollAppliances(ctx, c, bucket, a.version, stale)
	}
	cmdID, err := r.sendCommand(ctx, kind, stale, &ssm.SendCommandInput{
		DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: stale,
		Comment:    aws.String("dxmon: install " + detail),
		Parameters: map[string][]string{"commands": InstallScript(bucket, c.name, a.version, c.install, c.envFile)},
	})
	if err != nil {
		return err
	}
	if err := r.waitCommand(ctx, kind, cmdID, stale); err != nil {
		return err
	}
	if _, err := d.c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: stale, Tags: []ec2types.Tag{
		{Key: aws.String(c.versionTag), Value: aws.String(a.version)}}}); err != nil {
		return r.fail(kind, strings.Join(stale, ","), fmt.Errorf("tag version: %w", err))
	}
	for _, id := range stale {
		r.event(kind, id, cmdID, Created, detail)
	}
	return nil
}

// sendCommand sends a Run Command, retrying while SSM answers
// InvalidInstanceId, which it does until a new instance's SSM Agent has
// registered ("SSM Agent isn't registered with the SSM endpoint", SSM API
// reference, InvalidInstanceId), for at most WaitTimeout, with a progress
// event per retry.
func (r *run) sendCommand(ctx context.Context, kind string, ids []string, in *ssm.SendCommandInput) (string, error) {
	d := r.d
	var cmdID string
	var last error
	tries := 0
	err := d.poll(ctx, "SSM registration of "+strings.Join(ids, ","), func(ctx context.Context) (bool, error) {
		out, err := d.c.SSM.SendCommand(ctx, in)
		if errorCode(err) == "InvalidInstanceId" {
			tries++
			last = err
			r.event(kind, strings.Join(ids, ","), "", Waiting, fmt.Sprintf("not registered with SSM yet (InvalidInstanceId), try %d", tries))
			return false, nil
		}
		if err != nil {
			return false, err
		}
		cmdID = aws.ToString(out.Command.CommandId)
		return true, nil
	})
	if err != nil && last != nil && ctx.Err() == nil {
		return "", r.fail(kind, strings.Join(ids, ","), fmt.Errorf("instances not registered with SSM after %s and %d tries (is the SSM Agent running, with a route to the ssm, ssmmessages and ec2messages endpoints?): %w",
			d.opt.WaitTimeout, tries, last))
	}
	if err != nil {
		return "", r.fail(kind, strings.Join(ids, ","), fmt.Errorf("send command: %w", err))
	}
	return cmdID, nil
}

// maxStderr bounds the command output quoted in an error.
const maxStderr = 2000

// waitCommand waits for a command on every instance with the SDK's waiter;
// a failure names the instance, the status and the command's standard
// error (GetCommandInvocation StandardErrorContent).
func (r *run) waitCommand(ctx context.Context, kind, cmdID string, ids []string) error {
	d := r.d
	min, max := d.waitDelays()
	tick := r.ticker(kind, strings.Join(ids, ","), "waiting for Run Command "+cmdID)
	w := ssm.NewCommandExecutedWaiter(d.c.SSM, func(o *ssm.CommandExecutedWaiterOptions) {
		o.MinDelay, o.MaxDelay = min, max
		o.Retryable = ticking(o.Retryable, tick)
	})
	for _, id := range ids {
		err := w.Wait(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(cmdID), InstanceId: aws.String(id)}, d.opt.WaitTimeout)
		if err == nil {
			continue
		}
		inv, ierr := d.c.SSM.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(cmdID), InstanceId: aws.String(id)})
		if ierr != nil {
			return r.fail(kind, id, fmt.Errorf("command %s: %w", cmdID, err))
		}
		stderr := strings.TrimSpace(aws.ToString(inv.StandardErrorContent))
		if len(stderr) > maxStderr {
			stderr = "…" + stderr[len(stderr)-maxStderr:]
		}
		if stderr == "" {
			stderr = "(no standard error)"
		}
		return r.fail(kind, id, fmt.Errorf("command %s %s (exit %d): %s", cmdID, inv.Status, inv.ResponseCode, stderr))
	}
	return nil
}

var (
	installPathRE = regexp.MustCompile(`^/[A-Za-z0-9._/-]+$`)
	trueWords     = map[string]bool{"true": true, "yes": true, "1": true, "on": true}
	falseWords    = map[string]bool{"false": true, "no": true, "0": true, "off": true}
)

func parseBool(v string) (bool, bool) {
	v = strings.ToLower(strings.TrimSpace(v))
	return trueWords[v], trueWords[v] || falseWords[v]
}

// validateDeployment checks the keys of the two deployments: install paths
// are absolute and plain (they go into a shell script), PROBE_IPFIX is a
// URL, SLACK_WEBHOOK_URL an https URL (its value, a secret, is never
// repeated in the error).
func (c Config) validateDeployment() error {
	for _, p := range []struct{ key, v string }{{"APPLIANCE_INSTALL_PATH", c.ApplianceInstallPath},
		{"APPLIANCE_ENV_FILE", c.ApplianceEnvFile}, {"PROBE_ENV_FILE", c.ProbeEnvFile}} {
		if p.v != "" && !installPathRE.MatchString(p.v) {
			return fmt.Errorf("%s: %q must be an absolute path of letters, digits and ._/-", p.key, p.v)
		}
	}
	if err := c.validateIPFIX(); err != nil {
		return err
	}
	if c.SlackWebhookURL != "" {
		u, err := url.Parse(c.SlackWebhookURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("SLACK_WEBHOOK_URL: not an https URL (value not shown: it is a secret)")
		}
	}
	for k, v := range c.ProbeSettings {
		if strings.ContainsAny(v, "\n\r") {
			return fmt.Errorf("%s: %q spans lines", k, v)
		}
	}
	return nil
}

// withDeployDefaults fills the deployment paths a Config built in code may
// leave empty with the defaults ParseConfig applies.
func (c Config) withDeployDefaults() Config {
	c.ApplianceUnit = orDefault(c.ApplianceUnit, DefaultApplianceUnit)
	c.ApplianceInstallPath = orDefault(c.ApplianceInstallPath, DefaultApplianceInstallPath)
	c.ApplianceEnvFile = orDefault(c.ApplianceEnvFile, DefaultApplianceEnvFile)
	c.ProbeEnvFile = orDefault(c.ProbeEnvFile, DefaultProbeEnvFile)
	return c.withSizingDefaults()
}
