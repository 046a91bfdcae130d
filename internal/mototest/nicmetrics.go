package mototest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// What the software on an instance prints, which moto cannot know: moto
// runs no command, and GetCommandInvocation answers Success with empty
// output for every instance. fabric's verify reads the ENA allowance
// counters from dxappliance's and dxprobe's /metrics through Run Command
// (a script that fetches /metrics and prints its dxmon_nic_ lines). The
// proxy answers such a command (one whose commands mention "/metrics") as
// AWS reports a script's outcome (SSM API reference, GetCommandInvocation):
//
//   - on an instance where a service was started (a Run Command that ran
//     "systemctl restart …" succeeded, see health.go) it succeeds, and
//     StandardOutputContent is what SetNICMetrics staged for the instance,
//     by default an ENA device's six lines with every counter at 0; AWS
//     returns "the first 24,000 characters written by the plugin to
//     stdout", and so does the proxy;
//   - elsewhere nothing listens on the port: the script fails as curl does
//     when the connection is refused (exit 7), Status and StatusDetails
//     "Failed", the error in StandardErrorContent.

// stdoutLimit is GetCommandInvocation's StandardOutputContent limit.
const stdoutLimit = 24000

type nicState struct {
	metrics  map[string]string  // instance → the dxmon_nic_ lines it prints
	commands map[[2]string]bool // (command, instance) of metrics commands
}

func newNICState() nicState {
	return nicState{metrics: map[string]string{}, commands: map[[2]string]bool{}}
}

// DefaultNICMetrics is what an instance whose service runs prints when no
// SetNICMetrics staged otherwise: an ENA device with all five allowance
// counters at 0.
const DefaultNICMetrics = `dxmon_nic_allowance_counters_supported{interface="ens5"} 1
dxmon_nic_bw_in_allowance_exceeded_total{interface="ens5"} 0
dxmon_nic_bw_out_allowance_exceeded_total{interface="ens5"} 0
dxmon_nic_pps_allowance_exceeded_total{interface="ens5"} 0
dxmon_nic_conntrack_allowance_exceeded_total{interface="ens5"} 0
dxmon_nic_linklocal_allowance_exceeded_total{interface="ens5"} 0
`

// SetNICMetrics stages the dxmon_nic_ lines of /metrics that a metrics
// Run Command prints on the instance from now on; "" returns it to
// DefaultNICMetrics.
func (p *MirrorProxy) SetNICMetrics(id, lines string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if lines == "" {
		delete(p.st.ssm.nic.metrics, id)
		return
	}
	p.st.ssm.nic.metrics[id] = lines
}

// NICAllowanceLines renders the metrics lines of an ENA device whose
// allowance counters hold values, in nicstat's names.
func NICAllowanceLines(dev string, bwIn, bwOut, pps, conntrack, linklocal uint64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dxmon_nic_allowance_counters_supported{interface=%q} 1\n", dev)
	for _, c := range []struct {
		name string
		v    uint64
	}{{"bw_in", bwIn}, {"bw_out", bwOut}, {"pps", pps}, {"conntrack", conntrack}, {"linklocal", linklocal}} {
		fmt.Fprintf(&b, "dxmon_nic_%s_allowance_exceeded_total{interface=%q} %d\n", c.name, dev, c.v)
	}
	return b.String()
}

// nicMetrics remembers metrics commands (SendCommand) and gives their
// invocations the instance's output (GetCommandInvocation).
func (p *MirrorProxy) nicMetrics(resp *http.Response, sr ssmRequest) error {
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	switch sr.op {
	case "SendCommand":
		var in struct {
			InstanceIds []string
			Parameters  map[string][]string
		}
		_ = json.Unmarshal(sr.body, &in)
		if !strings.Contains(strings.Join(in.Parameters["commands"], "\n"), "/metrics") {
			return nil
		}
		return replaceBody(resp, func(b []byte) []byte {
			var out struct {
				Command struct {
					CommandID string `json:"CommandId"`
				}
			}
			_ = json.Unmarshal(b, &out)
			p.mu.Lock()
			defer p.mu.Unlock()
			for _, id := range in.InstanceIds {
				p.st.ssm.nic.commands[[2]string{out.Command.CommandID, id}] = true
			}
			return b
		})
	case "GetCommandInvocation":
		var in struct {
			CommandID  string `json:"CommandId"`
			InstanceID string `json:"InstanceId"`
		}
		_ = json.Unmarshal(sr.body, &in)
		p.mu.Lock()
		isMetrics := p.st.ssm.nic.commands[[2]string{in.CommandID, in.InstanceID}]
		serving := p.st.ssm.serving[in.InstanceID]
		lines, staged := p.st.ssm.nic.metrics[in.InstanceID]
		if isMetrics {
			p.hits["SSM.GetCommandInvocation.metrics"]++
		}
		p.mu.Unlock()
		if !isMetrics {
			return nil
		}
		if !staged {
			lines = DefaultNICMetrics
		}
		if len(lines) > stdoutLimit {
			lines = lines[:stdoutLimit]
		}
		return replaceBody(resp, func(b []byte) []byte {
			var out map[string]any
			if json.Unmarshal(b, &out) != nil {
				return b
			}
			if serving {
				out["StandardOutputContent"] = lines
			} else {
				out["Status"], out["StatusDetails"], out["ResponseCode"] = "Failed", "Failed", 7
				out["StandardOutputContent"] = ""
				out["StandardErrorContent"] = "curl: (7) Failed to connect to 127.0.0.1: Connection refused"
			}
			nb, err := json.Marshal(out)
			if err != nil {
				return b
			}
			return nb
		})
	}
	return nil
}
