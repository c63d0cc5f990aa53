package conf

import (
	"strings"
	"testing"
)

// BenchmarkParse reads a file with every option and the four flows written
// out (what kaifuku does once at start-up).
func BenchmarkParse(b *testing.B) {
	var s strings.Builder
	s.WriteString(everyOption)
	s.WriteString("\n[taskflow_driver_recovery_flows]\n")
	for _, k := range FlowKinds {
		s.WriteString(k.Option() + " = " + DefaultFlows()[k].Format() + "\n")
	}
	data := []byte(s.String())
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("k.conf", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseFlowValue parses the spec's multi-line example.
func BenchmarkParseFlowValue(b *testing.B) {
	v := textOf("k.conf", 2, "pre:['custom_pre_task','disable_compute_service_task'],\nmain:['prepare_HA_enabled_instances_task',\n'evacuate_instances_task'],\npost:['custom_post_task']")
	b.ReportAllocs()
	for b.Loop() {
		if _, errs := parseFlowValue(FlowHostRH, Pos{}, v); errs != nil {
			b.Fatal(errs)
		}
	}
}
