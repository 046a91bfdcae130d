package fleet

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/dxmon/dxmon/ipfix"
)

// ProbeID returns this probe's identity in the fleet table: the EC2
// instance ID when the instance metadata service at imds answers within
// timeout (empty imds: not asked), else the hostname and the listening
// port ("host:4789"), so that probes sharing a host differ.
func ProbeID(ctx context.Context, imds string, timeout time.Duration, port uint16) string {
	_, id := ipfix.DomainID(ctx, imds, timeout)
	if strings.HasPrefix(id, "i-") && imds != "" {
		return id
	}
	return id + ":" + strconv.Itoa(int(port))
}
