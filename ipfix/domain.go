package ipfix

import (
	"context"
	"hash/fnv"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// DefaultIMDSEndpoint is EC2's instance metadata service.
const DefaultIMDSEndpoint = "http://169.254.169.254"

// DomainID returns an observation domain ID for this host and what it was
// derived from: FNV-1a (32 bits) of the EC2 instance ID when the instance
// metadata service at endpoint answers within timeout (IMDSv2: a session
// token from PUT /latest/api/token, then GET /latest/meta-data/instance-id
// with it; "Use the Instance Metadata Service to access instance
// metadata", docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html),
// else of the hostname. An empty endpoint skips IMDS. It never takes much
// longer than timeout.
func DomainID(ctx context.Context, endpoint string, timeout time.Duration) (uint32, string) {
	if endpoint != "" {
		if id, ok := instanceID(ctx, endpoint, timeout); ok {
			return hash32(id), id
		}
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return hash32(host), host
}

func hash32(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	if v := h.Sum32(); v != 0 {
		return v
	}
	return 1
}

func instanceID(ctx context.Context, endpoint string, timeout time.Duration) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &http.Client{Timeout: timeout}
	endpoint = strings.TrimSuffix(endpoint, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, endpoint+"/latest/api/token", nil)
	if err != nil {
		return "", false
	}
	req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "60")
	token, ok := body(c, req)
	if !ok {
		return "", false
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/latest/meta-data/instance-id", nil)
	if err != nil {
		return "", false
	}
	req.Header.Set("X-aws-ec2-metadata-token", token)
	id, ok := body(c, req)
	if !ok || !strings.HasPrefix(id, "i-") {
		return "", false
	}
	return id, true
}

func body(c *http.Client, req *http.Request) (string, bool) {
	resp, err := c.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", false
	}
	s := strings.TrimSpace(string(b))
	return s, s != ""
}
