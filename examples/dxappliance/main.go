// Command dxappliance is dxmon's Gateway Load Balancer appliance: it
// returns every Geneve packet a GWLB sends it (UDP 6081) to that GWLB,
// unchanged but for the outer addresses, so that traffic routed through
// GWLB endpoints keeps flowing; it answers the target group's health check
// (TCP or HTTP) while it does and serves Prometheus metrics. See package
// gwlb for what AWS requires and how it is met.
//
// Bad configuration exits with status 2 and one line naming the flag, its
// environment variable and what is expected; a failure at run time exits
// with status 1. It needs CAP_NET_RAW (the answers leave through raw
// sockets), CAP_NET_BIND_SERVICE for a health check or metrics port below
// 1024 and CAP_NET_ADMIN for a receive buffer above net.core.rmem_max: it
// checks them all at start and names every one that is missing. Logs are
// slog text on stderr, or JSON with -log-format json (env LOG_FORMAT).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dxmon/dxmon/gwlb"
	"github.com/dxmon/dxmon/internal/envflag"
	"github.com/dxmon/dxmon/internal/logging"
	"github.com/dxmon/dxmon/nicstat"
	"github.com/dxmon/dxmon/reuseport"
)

// options are the parsed flags.
type options struct {
	listen      string
	workers     int
	health      string
	healthProto string
	healthPath  string
	metrics     string
	recvBuffer  int
	batch       int
	wait        reuseport.WaitMode
	logFormat   string
	set         *envflag.Set // to name a flag and its variable in errors at run time
	nic         string
	drainDelay  time.Duration
}

// usageError is bad configuration: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// envs maps flags to the environment variables that give their defaults.
var envs = []envflag.Var{
	{"listen", "APPLIANCE_LISTEN"}, {"workers", "APPLIANCE_WORKERS"},
	{"health", "APPLIANCE_HEALTH_ADDR"}, {"health-protocol", "APPLIANCE_HEALTH_PROTOCOL"},
	{"health-path", "APPLIANCE_HEALTH_PATH"}, {"metrics", "APPLIANCE_METRICS"},
	{"wait", "APPLIANCE_WAIT"}, {"recv-buffer", "APPLIANCE_RECV_BUFFER"}, {"batch", "APPLIANCE_BATCH"},
	{"nic", "APPLIANCE_NIC"}, {"drain-delay", "APPLIANCE_DRAIN_DELAY"},
	{logging.FlagName, logging.EnvName},
}

func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	var wait string
	fs := flag.NewFlagSet("dxappliance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", ":6081", "UDP address to take GWLB's Geneve on (env APPLIANCE_LISTEN)")
	fs.IntVar(&o.workers, "workers", 0, "sockets and goroutines; 0 = one per CPU (env APPLIANCE_WORKERS)")
	fs.StringVar(&o.health, "health", ":80", "TCP address of the target group's health check (env APPLIANCE_HEALTH_ADDR)")
	fs.StringVar(&o.healthProto, "health-protocol", gwlb.HealthTCP, "health check protocol: tcp or http (env APPLIANCE_HEALTH_PROTOCOL)")
	fs.StringVar(&o.healthPath, "health-path", "/", "HTTP health check path (env APPLIANCE_HEALTH_PATH)")
	fs.StringVar(&o.metrics, "metrics", ":9102", "address of /metrics; empty: none (env APPLIANCE_METRICS)")
	fs.IntVar(&o.recvBuffer, "recv-buffer", 32<<20, "receive buffer asked for each socket, bytes (env APPLIANCE_RECV_BUFFER)")
	fs.IntVar(&o.batch, "batch", 64, "datagrams per recvmmsg and sendmmsg (env APPLIANCE_BATCH)")
	fs.StringVar(&wait, "wait", "auto", "how readers wait: tick, netpoll, blocking or auto (env APPLIANCE_WAIT)")
	fs.StringVar(&o.nic, "nic", nicstat.Auto, "network device whose ENA allowance counters /metrics exports; auto = the one holding -listen's address, else the default route's (env APPLIANCE_NIC)")
	fs.DurationVar(&o.drainDelay, "drain-delay", gwlb.DefaultDrainDelay, "on SIGTERM, how long to keep returning packets after the health check stops answering; above the target group's deregistration delay (env APPLIANCE_DRAIN_DELAY)")
	logFormat := logging.Define(fs)
	set := envflag.New(fs, envs)
	if err := set.Parse(args, getenv); err != nil {
		return o, usageError{err}
	}
	o.logFormat, o.set = *logFormat, set
	var err error
	if o.wait, err = reuseport.ParseWaitMode(wait); err != nil {
		return o, usageError{set.Invalid("wait", "want auto, tick, netpoll or blocking")}
	}
	switch {
	case o.workers < 0 || o.workers > 1024:
		return o, usageError{set.Invalid("workers", "want 0 (one per CPU) to 1024")}
	case o.batch < 1 || o.batch > 1024:
		return o, usageError{set.Invalid("batch", "want 1 to 1024")}
	case o.recvBuffer < 1 || o.recvBuffer > 1<<30:
		return o, usageError{set.Invalid("recv-buffer", "want 1 to 1073741824 bytes")}
	case o.healthProto != gwlb.HealthTCP && o.healthProto != gwlb.HealthHTTP:
		return o, usageError{set.Invalid("health-protocol", "want tcp or http")}
	case len(o.healthPath) == 0 || o.healthPath[0] != '/':
		return o, usageError{set.Invalid("health-path", "want a path starting with /")}
	}
	if err := logging.Check(o.logFormat); err != nil {
		return o, usageError{set.Invalid(logging.FlagName, err.Error())}
	}
	if o.drainDelay < 0 || o.drainDelay > time.Hour {
		return o, usageError{set.Invalid("drain-delay", "want a duration from 0s to 1h, such as 35s")}
	}
	if o.nic != nicstat.Auto {
		if _, err := nicstat.Resolve(o.nic, o.listen); err != nil {
			return o, usageError{set.Invalid("nic", "want auto or a network device of this host")}
		}
	}
	if _, _, err := envflag.HostPort(o.listen, true); err != nil {
		return o, usageError{set.Invalid("listen", err.Error())}
	}
	if _, _, err := envflag.HostPort(o.health, false); err != nil {
		return o, usageError{set.Invalid("health", err.Error())}
	}
	if o.metrics != "" {
		if _, _, err := envflag.HostPort(o.metrics, false); err != nil {
			return o, usageError{set.Invalid("metrics", err.Error())}
		}
	}
	if err := checkPrivileges(o, set); err != nil {
		return o, err
	}
	return o, nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// run is main with its dependencies passed in; it returns the exit status.
func run(args []string, getenv func(string) string, stderr io.Writer) int {
	o, err := parseOptions(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "dxappliance:", err)
		var pe privilegeError
		if errors.As(err, &pe) {
			return 1
		}
		return 2
	}
	log, _ := logging.New(stderr, o.logFormat) // checked by parseOptions
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := serve(sigs, o, log); err != nil {
		var ue usageError
		var pe privilegeError
		switch {
		case errors.As(err, &ue):
			fmt.Fprintln(stderr, "dxappliance:", ue)
			return 2
		case errors.As(err, &pe):
			fmt.Fprintln(stderr, "dxappliance:", pe)
			return 1
		}
		log.Error("dxappliance stopped", "err", err)
		return 1
	}
	return 0
}

// serve opens everything, then reflects until a worker fails or a stop
// request on sigs has been drained (gwlb.Drain: the health check stops
// answering first, packets are returned for -drain-delay, a second request
// stops at once).
func serve(sigs <-chan os.Signal, o options, log *slog.Logger) error {
	rf, err := gwlb.New(gwlb.Config{Addr: o.listen, Workers: o.workers, Wait: o.wait,
		RecvBuffer: o.recvBuffer, BatchSize: o.batch, Log: log})
	if err != nil {
		return err
	}
	defer rf.Close()
	hs, err := gwlb.ListenHealth(gwlb.HealthConfig{Addr: o.health, Protocol: o.healthProto, Path: o.healthPath}, rf.Healthy)
	if err != nil {
		return listenError(o.set, "health", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := rf.Register(reg); err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}
	if dev, err := nicstat.Resolve(o.nic, o.listen); err != nil {
		log.Warn("no ENA allowance counters in /metrics", "err", err) // auto found nothing; never a reason not to run
	} else if _, err := nicstat.NewCollector(reg, nicstat.Ethtool{}, dev); err != nil {
		return fmt.Errorf("register nic metrics: %w", err)
	}
	var metricsSrv *http.Server
	var metricsLn net.Listener
	if o.metrics != "" {
		if metricsLn, err = net.Listen("tcp", o.metrics); err != nil {
			return listenError(o.set, "metrics", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	}

	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	healthCtx, cancelHealth := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var healthErr, metricsErr error
	wg.Go(func() { healthErr = hs.Serve(healthCtx) })
	if metricsSrv != nil {
		wg.Go(func() {
			if err := metricsSrv.Serve(metricsLn); !errors.Is(err, http.ErrServerClosed) {
				metricsErr = err
				cancelRun()
			}
		})
	}
	log.Info("dxappliance started", "listen", rf.LocalAddr().String(), "workers", rf.Workers(),
		"health", hs.Addr().String(), "health_protocol", o.healthProto, "metrics", o.metrics,
		"drain_delay", o.drainDelay.String())
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		gwlb.Drain(runCtx, sigs, o.drainDelay, func() { cancelHealth(); hs.Close() }, log) // refused from here on
		cancelRun()
	}()
	runErr := rf.Run(runCtx)
	cancelRun() // a failed reflector ends the drain: nothing is returned any more
	<-drained
	cancelHealth()
	if metricsSrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		metricsSrv.Shutdown(sctx)
		cancel()
	}
	wg.Wait()
	log.Info("dxappliance stopped")
	return errors.Join(runErr, healthErr, metricsErr)
}
