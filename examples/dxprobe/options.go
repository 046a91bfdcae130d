package main

import (
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/dxmon/dxmon/fleet"
	"github.com/dxmon/dxmon/internal/envflag"
	"github.com/dxmon/dxmon/internal/logging"
	"github.com/dxmon/dxmon/ipfix"
	"github.com/dxmon/dxmon/nicstat"
	"github.com/dxmon/dxmon/report"
	"github.com/dxmon/dxmon/reuseport"
)

// wantSNSTopic is what -sns-topic-arn expects. The ARN format is AWS's
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html:
// "arn:partition:service:region:account-id:resource-id"); an SNS topic's
// resource is the topic's name.
const wantSNSTopic = "want an SNS topic ARN, arn:aws:sns:REGION:ACCOUNT:TOPIC"

// checkOptions checks every flag's value after parsing, in one place, and
// parses the flags whose text holds more (-listen's port, -format, -wait,
// the CIDR lists) into o: its error is one line from set naming the flag,
// its variable, the value and what is expected.
func checkOptions(o *options, set *envflag.Set) error {
	var err error
	if o.format, err = report.ParseFormat(o.formatFlag); err != nil {
		return set.Invalid("format", "want text or json")
	}
	switch {
	case logging.Check(o.logFormat) != nil:
		return set.Invalid(logging.FlagName, logging.Check(o.logFormat).Error())
	case o.workers < 0 || o.workers > 1024:
		return set.Invalid("workers", "want 0 (one per CPU) to 1024")
	case !(o.sampleRate > 0 && o.sampleRate <= 1):
		return set.Invalid("sample-rate", "want a fraction of flows above 0 and at most 1, such as 0.1")
	case o.window < 100*time.Millisecond:
		return set.Invalid("window", "want at least 100ms")
	case o.top < 1 || o.top > 1000:
		return set.Invalid("top", "want 1 to 1000")
	case o.vni > 1<<24-1:
		return set.Invalid("vni", "want a VXLAN network identifier from 0 (any) to 16777215")
	case !(o.alertBPS > 0) || o.alertBPS > 1e15:
		return set.Invalid("alert-bps", "want bits per second above 0, such as 1e9")
	case !(o.alertPPS > 0) || o.alertPPS > 1e15:
		return set.Invalid("alert-pps", "want packets per second above 0, such as 5e5")
	case o.alertCooldown < 0:
		return set.Invalid("alert-cooldown", "want a duration of 0 or more, such as 300s")
	case !(o.alertUtil >= 0 && o.alertUtil <= 1):
		return set.Invalid("alert-utilization", "want a fraction of -link-bps above 0 and at most 1, such as 0.9, or 0 for off")
	case o.alertUtil > 0 && o.linkBPS == 0:
		return set.Invalid("alert-utilization", "needs -link-bps (LINK_BPS), the capacity of each direction")
	case o.nic != nicstat.Auto && !nicExists(o.nic, o.listen):
		return set.Invalid("nic", "want auto or a network device of this host")
	case o.fleetTable != "" && fleet.CheckTableName(o.fleetTable) != nil:
		return set.Invalid("fleet", "want a DynamoDB table name: 3 to 255 letters, digits, '_', '-' or '.'")
	case o.fleetTable != "" && o.readFile != "":
		return set.Invalid("fleet", "cannot be used with -r: a capture's windows are not the fleet's; unset one")
	case o.fleetWait < 0 || o.fleetWait > time.Minute:
		return set.Invalid("fleet-wait", "want a duration from 0s to 1m, such as 1s")
	case o.html != "" && o.readFile == "":
		return set.Invalid("html", "needs -r (the static page is of a capture; a live probe serves its page on -metrics)")
	case o.maxFlows < 0 || o.maxFlows > 1<<28:
		return set.Invalid("max-flows", "want 0 (262144) to 268435456")
	case o.recvBuffer < 1 || o.recvBuffer > 1<<30:
		return set.Invalid("recv-buffer", "want 1 to 1073741824 bytes")
	case o.batch < 1 || o.batch > 1024:
		return set.Invalid("batch", "want 1 to 1024")
	case o.ipfixDomain > 1<<32-1:
		return set.Invalid("ipfix-domain", "want 0 (derived) to 4294967295")
	case o.ipfixMax < ipfix.MinMaxMessage || o.ipfixMax > 65535:
		return set.Invalidf("ipfix-max-message", "want %d to 65535 bytes", ipfix.MinMaxMessage)
	case o.ipfixQueue < 1 || o.ipfixQueue > 1<<22:
		return set.Invalid("ipfix-queue", "want 1 to 4194304 messages")
	}
	if o.wait, err = reuseport.ParseWaitMode(o.waitFlag); err != nil {
		return set.Invalid("wait", "want auto, tick, netpoll or blocking")
	}
	if _, o.port, err = envflag.HostPort(o.listen, false); err != nil {
		return set.Invalid("listen", err.Error())
	}
	if o.metrics != "" {
		if _, _, err := envflag.HostPort(o.metrics, false); err != nil {
			return set.Invalid("metrics", err.Error())
		}
	}
	if o.slackURL != "" && !strings.HasPrefix(o.slackURL, "https://") && !strings.HasPrefix(o.slackURL, "http://") {
		return set.Invalid("slack-webhook-url", "want an https:// or http:// URL (the value is not shown: it holds a secret)")
	}
	if o.snsTopic != "" {
		if a, err := arn.Parse(o.snsTopic); err != nil || a.Service != "sns" || a.Resource == "" || strings.Contains(a.Resource, ":") {
			return set.Invalid("sns-topic-arn", wantSNSTopic)
		}
	}
	if o.onPrem, err = envflag.Prefixes(o.onPremFlag); err != nil {
		return set.Invalid("onprem-cidrs", err.Error())
	}
	if len(o.onPrem) > 64 {
		return set.Invalidf("onprem-cidrs", "want at most 64 CIDRs, not %d", len(o.onPrem))
	}
	if o.vpc, err = envflag.Prefixes(o.vpcFlag); err != nil {
		return set.Invalid("vpc-cidrs", err.Error())
	}
	if len(o.vpc) > 64 {
		return set.Invalidf("vpc-cidrs", "want at most 64 CIDRs, not %d", len(o.vpc))
	}
	if o.ipfix != "" {
		if _, err := ipfix.ParseURL(o.ipfix); err != nil {
			return set.Invalid("ipfix", "want udp://HOST:PORT, such as udp://127.0.0.1:4739")
		}
	}
	return nil
}

// nicExists reports whether dev names a network device of this host.
func nicExists(dev, listen string) bool {
	_, err := nicstat.Resolve(dev, listen)
	return err == nil
}
