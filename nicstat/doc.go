// Package nicstat reads a network device's driver statistics (what
// `ethtool -S` prints) through the SIOCETHTOOL ioctl, and exports the
// Elastic Network Adapter's allowance counters to Prometheus.
//
// An EC2 instance's network is shaped by allowances the instance type sets;
// past them the ENA device queues or drops packets, and on a dxmon
// appliance the packets dropped are the link's production traffic. AWS,
// "Monitor network performance for ENA settings on your EC2 instance"
// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-network-performance-ena.html),
// names the ENA driver's statistics that count it (driver 2.2.10 or later):
//
//   - bw_in_allowance_exceeded: packets queued or dropped because the
//     inbound aggregate bandwidth exceeded the maximum for the instance;
//   - bw_out_allowance_exceeded: the same, outbound;
//   - pps_allowance_exceeded: packets queued or dropped because the
//     bidirectional PPS exceeded the maximum for the instance;
//   - conntrack_allowance_exceeded: packets dropped because connection
//     tracking exceeded the maximum for the instance and new connections
//     could not be established;
//   - linklocal_allowance_exceeded: packets dropped because the PPS of the
//     traffic to local proxy services (DNS, the Instance Metadata Service,
//     the Amazon Time Sync Service) exceeded the maximum for the interface.
//
// The ioctl follows the kernel's UAPI, include/uapi/linux/ethtool.h:
// ETHTOOL_GSSET_INFO (struct ethtool_sset_info: cmd, reserved, sset_mask,
// then one __u32 count per set asked for and supported) gives the length of
// the ETH_SS_STATS string set; ETHTOOL_GSTRINGS (struct ethtool_gstrings:
// cmd, string_set, len, then len names of ETH_GSTRING_LEN = 32 bytes, NUL
// padded) gives the names; ETHTOOL_GSTATS (struct ethtool_stats: cmd,
// n_stats, then n_stats __u64) the values, in the same order. No `ethtool`
// binary is run. Off Linux every read fails with an error wrapping
// ErrNotSupported.
//
// A device whose driver has no allowance counters (veth, virtio, an older
// ENA driver) is reported as such — the gauge
// dxmon_nic_allowance_counters_supported is 0 and no counter series exists
// — never as counters that stay at 0, which would read as "no drops".
//
// Statistics are read when Prometheus scrapes, never on the packet path.
// Which device: Resolve picks the one holding the listen address, else the
// one holding the IPv4 (then IPv6) default route, once, at start.
package nicstat
