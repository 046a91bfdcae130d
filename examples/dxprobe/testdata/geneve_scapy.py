#!/usr/bin/env python3
"""Geneve encoder for examples/dxprobe's TestScapyGeneveMatchesVXLAN: scapy builds it.

The test asks this process to wrap IP packets in Geneve the way a Gateway
Load Balancer does: Geneve with the packet's own EtherType as protocol and AWS's
three TLVs (option class 0x0108: type 1 the 8-byte GWLB endpoint ID, type 2
the 8-byte attachment ID, type 3 the 4-byte flow cookie; see "Integrate
appliances using Gateway Load Balancer", Elastic Load Balancing docs).
scapy.contrib.geneve encodes the Geneve header and every option header
(class, type, length); dxmon's code encodes nothing here, so the test compares
vxlan.AppendGWLBOptions (which TestKernelGWLB's GWLB stand-in uses) with an
encoder its authors did not write.

Protocol on stdin/stdout, both big-endian, one request at a time:
  request:  u32 n, then n bytes: u64 endpoint, u64 attachment, u32 cookie,
            the inner IP packet
  response: u32 m, then m bytes: the UDP payload (Geneve header, options,
            inner packet)
End of input ends the process with status 0.
"""

import struct
import sys

from scapy.contrib.geneve import GENEVE, GeneveOptions
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6

AWS_OPTION_CLASS = 0x0108


def read_exact(f, n):
    b = f.read(n)
    if len(b) != n:
        raise EOFError("short read: %d of %d bytes" % (len(b), n))
    return b


def encode(endpoint, attachment, cookie, inner):
    ip = IPv6(inner) if inner[0] >> 4 == 6 else IP(inner)
    if bytes(ip) != inner:
        raise ValueError("scapy would change the inner packet")
    # proto is left unset: scapy fills it from its GENEVE/IP and GENEVE/IPv6
    # bindings (0x0800, 0x86dd); optionlen and each option's length too.
    pkt = GENEVE(vni=0, options=[
        GeneveOptions(classid=AWS_OPTION_CLASS, type=1, data=struct.pack("!Q", endpoint)),
        GeneveOptions(classid=AWS_OPTION_CLASS, type=2, data=struct.pack("!Q", attachment)),
        GeneveOptions(classid=AWS_OPTION_CLASS, type=3, data=struct.pack("!I", cookie)),
    ]) / ip
    return bytes(pkt)


def main():
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        hdr = inp.read(4)
        if not hdr:
            return 0
        if len(hdr) != 4:
            raise EOFError("short request header")
        (n,) = struct.unpack("!I", hdr)
        if n < 20:
            raise ValueError("request of %d bytes: shorter than its 20-byte prefix" % n)
        req = read_exact(inp, n)
        endpoint, attachment, cookie = struct.unpack("!QQI", req[:20])
        b = encode(endpoint, attachment, cookie, req[20:])
        out.write(struct.pack("!I", len(b)) + b)
        out.flush()


if __name__ == "__main__":
    sys.exit(main())
