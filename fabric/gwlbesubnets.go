package fabric

import (
	"fmt"
	"sort"
	"strings"
)

// checkGWLBESubnets is stage 00's check of GWLBE_SUBNETS against the AZs
// the GWLB covers (the AZs of WORKLOAD_SUBNETS, where stage 02 puts it):
// a GWLB endpoint is created in an AZ of the endpoint service, which is
// the GWLB's AZs ("Gateway Load Balancer endpoints": the endpoint service
// is available in the Availability Zones of the load balancer), and stage
// 03 routes each business subnet's traffic through the one endpoint of its
// AZ, so a second endpoint in an AZ would carry nothing and confuse which
// one the route uses.
func checkGWLBESubnets(gwlbe []string, subnetAZ map[string]string, workload []azSubnet) error {
	covered := map[string]bool{}
	var azs []string
	for _, w := range workload {
		covered[w.az] = true
		azs = append(azs, w.az)
	}
	sort.Strings(azs)
	seen := map[string]string{}
	for _, s := range gwlbe {
		az := subnetAZ[s]
		if !covered[az] {
			return fmt.Errorf("GWLBE_SUBNETS: %s is in %s, where the GWLB has no subnet (WORKLOAD_SUBNETS cover %s)", s, az, strings.Join(azs, ", "))
		}
		if other, ok := seen[az]; ok {
			return fmt.Errorf("GWLBE_SUBNETS: %s and %s are both in %s; give one subnet per AZ", other, s, az)
		}
		seen[az] = s
	}
	return nil
}
