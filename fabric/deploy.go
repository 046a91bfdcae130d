package fabric

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// artifactPrefix is where stage 08 puts dxprobe in the bucket:
// dxprobe/<version>/dxprobe, dxprobe.service and dxprobe.env.
const artifactPrefix = "dxprobe/"

// applianceArtifactPrefix is where stage 02 puts dxappliance.
const applianceArtifactPrefix = "dxappliance/"

// Install paths on the probes.
const (
	ProbeBinaryPath = "/usr/local/bin/dxprobe"
	ProbeUnitPath   = "/etc/systemd/system/dxprobe.service"
)

// stageDeploy is stage 08: dxprobe, its unit and its environment file
// (written from the configuration) to S3 under a content version, installed
// by Run Command on every probe that does not carry that version in its
// dxmon:probe-version tag (see deploy in artifacts.go). No inbound SSH: the
// probes pull from S3 through their role.
func (r *run) stageDeploy(ctx context.Context) error {
	if err := r.deploy(ctx, r.d.probeComponent()); err != nil {
		return err
	}
	return r.deployGuard(ctx) // guarddeploy.go
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
