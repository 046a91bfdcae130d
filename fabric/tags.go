package fabric

import (
	"crypto/rand"
	"encoding/hex"
	"strings"

	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Tag keys fabric sets on every resource (see the package documentation).
const (
	TagProject = "Project"
	TagName    = "Name"
	TagRole    = "dxmon:role"
	// TagProbeVersion on a probe instance records the dxprobe build stage 08
	// installed there.
	TagProbeVersion = "dxmon:probe-version"
)

// name builds a resource name: the project tag, then the parts.
func (d *Deployer) name(parts ...string) string {
	return d.cfg.ProjectTag + "-" + strings.Join(parts, "-")
}

// clientToken is a fresh ClientToken for the creation calls whose SDK
// input has no idempotency auto-fill (CreateVpcEndpoint,
// CreateVpcEndpointServiceConfiguration): like the SDK's own, it is made
// once per call, so the SDK's retries of that call share it, and a later
// run never replays it (see "Client tokens" in the package documentation).
func clientToken() *string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return aws.String(hex.EncodeToString(b))
}

func (d *Deployer) tags(name, role string) []ec2types.Tag {
	return []ec2types.Tag{
		{Key: aws.String(TagProject), Value: aws.String(d.cfg.ProjectTag)},
		{Key: aws.String(TagName), Value: aws.String(name)},
		{Key: aws.String(TagRole), Value: aws.String(role)},
	}
}

func (d *Deployer) tagSpec(rt ec2types.ResourceType, name, role string) []ec2types.TagSpecification {
	return []ec2types.TagSpecification{{ResourceType: rt, Tags: d.tags(name, role)}}
}

// byName filters on the project and Name tags.
func (d *Deployer) byName(name string) []ec2types.Filter {
	return []ec2types.Filter{
		{Name: aws.String("tag:" + TagProject), Values: []string{d.cfg.ProjectTag}},
		{Name: aws.String("tag:" + TagName), Values: []string{name}},
	}
}

// byRole filters on the project and role tags.
func (d *Deployer) byRole(role string) []ec2types.Filter {
	return []ec2types.Filter{
		{Name: aws.String("tag:" + TagProject), Values: []string{d.cfg.ProjectTag}},
		{Name: aws.String("tag:" + TagRole), Values: []string{role}},
	}
}

// owns reports whether tags carry this project's Project tag and, when
// name is not empty, that Name. fabric checks it on everything Describe
// returns: a tag filter narrows the answer, but an emulator (or a filter
// typo) that ignores it must never make fabric adopt, modify or delete
// another's resource.
func (d *Deployer) owns(tags []ec2types.Tag, name string) bool {
	return tagValue(tags, TagProject) == d.cfg.ProjectTag && (name == "" || tagValue(tags, TagName) == name)
}

// ownsRole is owns for a role instead of a name.
func (d *Deployer) ownsRole(tags []ec2types.Tag, role string) bool {
	return tagValue(tags, TagProject) == d.cfg.ProjectTag && tagValue(tags, TagRole) == role
}

func tagValue(tags []ec2types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}
