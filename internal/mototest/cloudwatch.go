package mototest

import (
	"io"
	"net/http"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// This file is the MirrorProxy's CloudWatch: the Go SDK speaks
// rpc-v2-cbor to CloudWatch and moto 5.2.1 answers that with 404, so the
// proxy serves PutMetricData and GetMetricData itself.

// metricDatum is one CloudWatch data point put through the proxy.
type metricDatum struct {
	namespace, name string
	dims            map[string]string
	at              time.Time
	value           float64
}

func cborString(m cbor.Map, k string) string {
	v, _ := m[k].(cbor.String)
	return string(v)
}

func cborDims(v cbor.Value) map[string]string {
	out := map[string]string{}
	l, _ := v.(cbor.List)
	for _, d := range l {
		if m, ok := d.(cbor.Map); ok {
			out[cborString(m, "Name")] = cborString(m, "Value")
		}
	}
	return out
}

func cborTime(v cbor.Value) time.Time {
	t, _ := cbor.AsTime(v)
	return t
}

func sameDims(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// serveCloudWatch answers PutMetricData and GetMetricData (Sum of every
// point in the window, as one value) in rpc-v2-cbor.
func (p *MirrorProxy) serveCloudWatch(w http.ResponseWriter, req *http.Request, op string) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	in := cbor.Map{}
	if len(body) > 0 {
		v, err := cbor.Decode(body)
		if err != nil {
			http.Error(w, "cbor: "+err.Error(), http.StatusBadRequest)
			return
		}
		in, _ = v.(cbor.Map)
	}
	out := cbor.Map{}
	p.mu.Lock()
	p.hits["CloudWatch."+op]++
	switch op {
	case "PutMetricData":
		ns := cborString(in, "Namespace")
		l, _ := in["MetricData"].(cbor.List)
		for _, d := range l {
			m, _ := d.(cbor.Map)
			val, _ := cbor.AsFloat64(m["Value"])
			p.st.metrics = append(p.st.metrics, metricDatum{namespace: ns, name: cborString(m, "MetricName"),
				dims: cborDims(m["Dimensions"]), at: cborTime(m["Timestamp"]), value: val})
		}
	case "GetMetricData":
		from, to := cborTime(in["StartTime"]), cborTime(in["EndTime"])
		var results cbor.List
		l, _ := in["MetricDataQueries"].(cbor.List)
		for _, q := range l {
			qm, _ := q.(cbor.Map)
			stat, _ := qm["MetricStat"].(cbor.Map)
			metric, _ := stat["Metric"].(cbor.Map)
			ns, name, dims := cborString(metric, "Namespace"), cborString(metric, "MetricName"), cborDims(metric["Dimensions"])
			var sum float64
			n := 0
			for _, d := range p.st.metrics {
				if d.namespace == ns && d.name == name && sameDims(d.dims, dims) && !d.at.Before(from) && d.at.Before(to) {
					sum += d.value
					n++
				}
			}
			res := cbor.Map{"Id": qm["Id"], "Label": cbor.String(name), "StatusCode": cbor.String("Complete"),
				"Timestamps": cbor.List{}, "Values": cbor.List{}}
			if n > 0 {
				res["Timestamps"] = cbor.List{&cbor.Tag{ID: 1, Value: cbor.Float64(float64(from.Unix()))}}
				res["Values"] = cbor.List{cbor.Float64(sum)}
			}
			results = append(results, res)
		}
		out["MetricDataResults"] = results
	default:
		p.mu.Unlock()
		w.Header().Set("smithy-protocol", "rpc-v2-cbor")
		w.Header().Set("Content-Type", "application/cbor")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(cbor.Encode(cbor.Map{"__type": cbor.String("InvalidAction"), "message": cbor.String(op + " is not served by the test proxy")}))
		return
	}
	p.mu.Unlock()
	w.Header().Set("smithy-protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	_, _ = w.Write(cbor.Encode(out))
}
