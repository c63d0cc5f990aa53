// Package examples ships the example files of conf/examples inside the
// binary: the demo cloud that `kaifuku serve` simulates when no [compute]
// fixture is configured.
package examples

import _ "embed"

// DemoCloud is demo-cloud.json, a small simulated cloud.
//
//go:embed demo-cloud.json
var DemoCloud []byte
