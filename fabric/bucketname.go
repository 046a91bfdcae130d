package fabric

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// S3's rules for general purpose bucket names (Amazon S3 User Guide,
// "General purpose bucket naming rules",
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html):
// "Bucket names must be between 3 (min) and 63 (max) characters long",
// "can consist only of lowercase letters, numbers, periods (.), and hyphens
// (-)", "must begin and end with a letter or number", "must not contain two
// adjacent periods", "must not be formatted as an IP address", and must
// not start with xn--, sthree- or amzn-s3-demo-, nor end with -s3alias,
// --ol-s3, .mrap or --x-s3.
var (
	bucketRE         = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	bucketPrefixes   = []string{"xn--", "sthree-", "amzn-s3-demo-"}
	bucketSuffixes   = []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3"}
	projectBucketMax = 63 - len("-123456789012-ap-southeast-1") // the longest <account>-<region> tail
)

// BucketNameError says why name breaks S3's naming rules, or is nil.
func BucketNameError(name string) error {
	switch {
	case !bucketRE.MatchString(name):
		return fmt.Errorf("%q must be 3-63 lowercase letters, digits, '.' or '-', beginning and ending with a letter or digit (S3 bucket naming rules)", name)
	case strings.Contains(name, ".."):
		return fmt.Errorf("%q has two adjacent periods (S3 bucket naming rules)", name)
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return fmt.Errorf("%q is formatted as an IP address (S3 bucket naming rules)", name)
	}
	for _, p := range bucketPrefixes {
		if strings.HasPrefix(name, p) {
			return fmt.Errorf("%q starts with %q, which S3 reserves", name, p)
		}
	}
	for _, s := range bucketSuffixes {
		if strings.HasSuffix(name, s) {
			return fmt.Errorf("%q ends with %q, which S3 reserves", name, s)
		}
	}
	return nil
}

// checkProjectBucket checks the artifact bucket's name before any call:
// PROBE_BUCKET as given, or, when it is empty, PROJECT_TAG as the start of
// the default <PROJECT_TAG>-<account>-<region> (the account and region,
// digits and lowercase, keep the end valid).
func checkProjectBucket(c Config) error {
	if c.ProbeBucket != "" {
		if err := BucketNameError(c.ProbeBucket); err != nil {
			return fmt.Errorf("PROBE_BUCKET: %v", err)
		}
		return nil
	}
	sample := c.ProjectTag + "-123456789012-" + c.Region
	if len(c.ProjectTag) > projectBucketMax {
		return fmt.Errorf("PROJECT_TAG: %q is too long to start the artifact bucket's name %s-<account>-<region> (S3 allows 63 characters); set PROBE_BUCKET", c.ProjectTag, c.ProjectTag)
	}
	if err := BucketNameError(sample); err != nil {
		return fmt.Errorf("PROJECT_TAG: %q cannot start the artifact bucket's name %s-<account>-<region>: %v; use lowercase or set PROBE_BUCKET", c.ProjectTag, c.ProjectTag, err)
	}
	return nil
}
