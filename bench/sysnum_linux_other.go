//go:build linux && !amd64 && !arm64

package main

// sysSENDMMSG is 0 where this file does not know sendmmsg(2)'s number: the
// sender then writes one datagram per system call.
const sysSENDMMSG = 0
