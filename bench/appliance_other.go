//go:build !linux

package main

import "net"

// mmsgSenderOn is a one-datagram-per-write sender on an already connected
// socket off Linux.
func mmsgSenderOn(c *net.UDPConn) (*mmsgSender, error) { return &mmsgSender{conn: c}, nil }
