package main

import "net"

// mmsgSenderOn is a sendmmsg sender on an already connected socket (one
// bound to a chosen source address).
func mmsgSenderOn(c *net.UDPConn) (*mmsgSender, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	_ = c.SetWriteBuffer(4 << 20)
	s := &mmsgSender{conn: c, rc: rc}
	s.write = s.doWrite
	return s, nil
}
