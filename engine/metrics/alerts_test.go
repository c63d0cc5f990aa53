package metrics

import (
	"context"
	"os"
	"regexp"
	"testing"

	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/db"
)

// Every metric the shipped alerting rules use is one kaifuku exposes, so
// that a renamed metric cannot leave the rules silently matching nothing.
func TestAlertRulesUseExistingMetrics(t *testing.T) {
	rules, err := os.ReadFile("../../conf/examples/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	m := New()
	m.CountStored(func(context.Context) ([]db.NotificationCount, error) { return nil, nil })
	// Vectors are gathered once they have a sample.
	m.OnEvent(engine.Event{Type: engine.TaskFailed, Task: "t", TaskKind: "lua"})
	m.novaCalls.WithLabelValues("evacuate", "success")
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exposed := map[string]bool{}
	for _, f := range families {
		exposed[f.GetName()] = true
	}
	expr := regexp.MustCompile(`(?m)^\s*expr:\s*(.*)$`)
	metric := regexp.MustCompile(`\bkaifuku_[a-z_]+`)
	found := 0
	for _, e := range expr.FindAllStringSubmatch(string(rules), -1) {
		for _, name := range metric.FindAllString(e[1], -1) {
			found++
			if !exposed[name] {
				t.Errorf("alerts.yml uses %s, which kaifuku does not expose", name)
			}
		}
	}
	if found < 5 {
		t.Fatalf("only %d metrics found in the rules' expressions: the file's format changed", found)
	}
}
