package main

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/dxmon/dxmon/internal/caps"
	"github.com/dxmon/dxmon/internal/envflag"
)

// privilegeError is a missing capability: one line, exit status 1 (the
// configuration is right; the process is not allowed to carry it out).
type privilegeError struct{ msg string }

func (e privilegeError) Error() string { return e.msg }

// effectiveCaps reads the process's capabilities; tests replace it.
var effectiveCaps = caps.Effective

// checkPrivileges names, in one line, every capability o needs that the
// process lacks: CAP_NET_RAW for the raw sockets that return packets,
// CAP_NET_BIND_SERVICE for a health check or metrics port below 1024, and
// CAP_NET_ADMIN for a receive buffer above net.core.rmem_max. Where the
// capabilities cannot be read (no /proc), it checks nothing and the
// sockets fail on their own.
func checkPrivileges(o options, set *envflag.Set) error {
	have, err := effectiveCaps()
	if err != nil {
		return nil
	}
	var why []string
	if !have.Has(caps.NetRaw) {
		why = append(why, "CAP_NET_RAW (to return packets through raw sockets)")
	}
	var low []string
	for _, f := range []struct{ flag, addr string }{{"health", o.health}, {"metrics", o.metrics}} {
		if f.addr == "" {
			continue
		}
		if _, port, err := envflag.HostPort(f.addr, false); err == nil && port > 0 && port < 1024 {
			low = append(low, fmt.Sprintf("-%s %s", f.flag, f.addr))
		}
	}
	if len(low) > 0 && !have.Has(caps.NetBindService) {
		why = append(why, fmt.Sprintf("CAP_NET_BIND_SERVICE (%s: ports below 1024)", strings.Join(low, ", ")))
	}
	if max := caps.RmemMax(); max > 0 && o.recvBuffer > max && !have.Has(caps.NetAdmin) {
		why = append(why, fmt.Sprintf("CAP_NET_ADMIN (-recv-buffer %d exceeds net.core.rmem_max %d; or lower -recv-buffer (env %s))",
			o.recvBuffer, max, set.Env("recv-buffer")))
	}
	if len(why) == 0 {
		return nil
	}
	return privilegeError{fmt.Sprintf("missing capabilities: %s; run as root or grant them (the systemd unit dxappliance.service does)",
		strings.Join(why, ", "))}
}

// listenError is the one line for a TCP listener that could not open;
// permission denied is a privilege error (exit status 1), the others are
// the address's fault (exit status 2).
func listenError(set *envflag.Set, flag string, err error) error {
	e := set.Failed(flag, envflag.ListenFailure(err))
	if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
		return privilegeError{e.Error()}
	}
	return usageError{e}
}
