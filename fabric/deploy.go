package fabric

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// artifactPrefix is where stage 08 puts dxprobe in the bucket:
// dxprobe/<version>/dxprobe and dxprobe/<version>/dxprobe.service.
const artifactPrefix = "dxprobe/"

// Install paths on the probes.
const (
	ProbeBinaryPath = "/usr/local/bin/dxprobe"
	ProbeUnitPath   = "/etc/systemd/system/dxprobe.service"
)

// artifacts are the two files stage 08 ships, read and hashed.
type artifacts struct {
	binary, unit []byte
	version      string // first 16 hex digits of sha256(binary, unit)
}

func (d *Deployer) readArtifacts() (*artifacts, error) {
	if d.cfg.ProbeBinary == "" {
		return nil, fmt.Errorf("PROBE_BINARY is not set (path of the dxprobe binary to deploy)")
	}
	if d.cfg.ProbeUnit == "" {
		return nil, fmt.Errorf("PROBE_UNIT is not set (path of dxprobe.service)")
	}
	bin, err := os.ReadFile(d.cfg.ProbeBinary)
	if err != nil {
		return nil, fmt.Errorf("PROBE_BINARY: %w", err)
	}
	unit, err := os.ReadFile(d.cfg.ProbeUnit)
	if err != nil {
		return nil, fmt.Errorf("PROBE_UNIT: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00", len(bin))
	h.Write(bin)
	h.Write(unit)
	return &artifacts{binary: bin, unit: unit, version: hex.EncodeToString(h.Sum(nil))[:16]}, nil
}

// DeployScript is the Run Command script that installs one version on a
// probe. It is safe to run again: it fetches, replaces atomically, and
// restarts the service.
func DeployScript(bucket, version string) []string {
	src := "s3://" + bucket + "/" + artifactPrefix + version + "/"
	return []string{
		"set -euo pipefail",
		"tmp=$(mktemp -d)",
		"aws s3 cp " + src + "dxprobe \"$tmp/dxprobe\"",
		"aws s3 cp " + src + "dxprobe.service \"$tmp/dxprobe.service\"",
		"install -m 0755 \"$tmp/dxprobe\" " + ProbeBinaryPath + ".new && mv -f " + ProbeBinaryPath + ".new " + ProbeBinaryPath,
		"install -m 0644 \"$tmp/dxprobe.service\" " + ProbeUnitPath,
		"rm -rf \"$tmp\"",
		"systemctl daemon-reload",
		"systemctl enable dxprobe",
		"systemctl restart dxprobe",
		"systemctl is-active dxprobe",
	}
}

// stageDeploy is stage 08: upload dxprobe and its unit to S3 under a
// content version, run the install script on every probe that does not
// carry that version in its dxmon:probe-version tag, then tag it. No
// inbound SSH: the probes pull from S3 through their role.
func (r *run) stageDeploy(ctx context.Context) error {
	d := r.d
	a, err := d.readArtifacts()
	if err != nil {
		return fmt.Errorf("stage %s: %w", r.stage, err)
	}
	bucket := d.bucket(r.env.account)
	_, err = r.ensure(ctx, "s3-bucket", bucket, func(ctx context.Context) (string, error) {
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
		return err
	}
	// A bucket created by a run interrupted before its tagging: it is in
	// this account under this project's name, so it is ours; tag it.
	if !r.plan || d.bucketExists(ctx, bucket) {
		tags, err := d.c.S3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(bucket)})
		if err != nil && errorCode(err) != "NoSuchTagSet" {
			return r.fail("s3-bucket", bucket, err)
		}
		if tags == nil || !ownedS3(tags.TagSet, d.cfg.ProjectTag) {
			if err := r.change(ctx, "s3-bucket", bucket, bucket, "tag "+TagProject+"="+d.cfg.ProjectTag, func(ctx context.Context) error {
				return d.tagBucket(ctx, bucket)
			}); err != nil {
				return err
			}
		}
	}
	for _, f := range []struct {
		name string
		body []byte
	}{{"dxprobe", a.binary}, {"dxprobe.service", a.unit}} {
		key := artifactPrefix + a.version + "/" + f.name
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

	probes, err := d.findInstances(ctx, "probe", "")
	if err != nil {
		return r.fail("probe-instance", "*", err)
	}
	if len(probes) == 0 && !(r.plan && r.planned[StageProbes]) {
		return fmt.Errorf("stage %s: missing prerequisite probe-instance (run stage 04 first)", r.stage)
	}
	var stale []string
	for _, p := range probes {
		id := aws.ToString(p.InstanceId)
		if tagValue(p.Tags, TagProbeVersion) == a.version {
			r.event("probe-deployment", tagValue(p.Tags, TagName), id, Exists, "dxprobe "+a.version)
		} else {
			stale = append(stale, id)
		}
	}
	if r.plan {
		for _, id := range stale {
			r.event("probe-deployment", id, id, Create, "dxprobe "+a.version)
		}
		for _, w := range r.env.workload {
			if len(probes) == 0 {
				r.event("probe-deployment", d.probeName(w.az), "", Create, "dxprobe "+a.version)
			}
		}
		return nil
	}
	if len(stale) == 0 {
		return nil
	}
	name := "dxprobe " + a.version
	cmd, err := d.c.SSM.SendCommand(ctx, &ssm.SendCommandInput{
		DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: stale,
		Comment:    aws.String("dxmon: install dxprobe " + a.version),
		Parameters: map[string][]string{"commands": DeployScript(bucket, a.version)},
	})
	if err != nil {
		return r.fail("probe-deployment", name, fmt.Errorf("send command: %w", err))
	}
	cmdID := aws.ToString(cmd.Command.CommandId)
	min, max := d.waitDelays()
	tick := r.ticker("probe-deployment", name, "waiting for Run Command "+cmdID)
	w := ssm.NewCommandExecutedWaiter(d.c.SSM, func(o *ssm.CommandExecutedWaiterOptions) {
		o.MinDelay, o.MaxDelay = min, max
		next := o.Retryable
		o.Retryable = func(ctx context.Context, in *ssm.GetCommandInvocationInput, out *ssm.GetCommandInvocationOutput, err error) (bool, error) {
			retry, err := next(ctx, in, out, err)
			if retry {
				tick()
			}
			return retry, err
		}
	})
	for _, id := range stale {
		if err := w.Wait(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(cmdID), InstanceId: aws.String(id)}, d.opt.WaitTimeout); err != nil {
			return r.fail("probe-deployment", id, fmt.Errorf("command %s: %w", cmdID, err))
		}
	}
	if _, err := d.c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: stale, Tags: []ec2types.Tag{
		{Key: aws.String(TagProbeVersion), Value: aws.String(a.version)}}}); err != nil {
		return r.fail("probe-deployment", strings.Join(stale, ","), fmt.Errorf("tag version: %w", err))
	}
	for _, id := range stale {
		r.event("probe-deployment", id, cmdID, Created, "dxprobe "+a.version)
	}
	return nil
}

func (d *Deployer) bucketExists(ctx context.Context, bucket string) bool {
	_, err := d.c.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	return err == nil
}

func (d *Deployer) tagBucket(ctx context.Context, bucket string) error {
	_, err := d.c.S3.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(bucket), Tagging: &s3types.Tagging{TagSet: []s3types.Tag{
		{Key: aws.String(TagProject), Value: aws.String(d.cfg.ProjectTag)}, {Key: aws.String(TagName), Value: aws.String(bucket)}}}})
	return err
}

func ownedS3(tags []s3types.Tag, project string) bool {
	for _, t := range tags {
		if aws.ToString(t.Key) == TagProject && aws.ToString(t.Value) == project {
			return true
		}
	}
	return false
}
