package builtin

import (
	"slices"
	"strings"
	"testing"

	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

func TestBeginReadsInputsInOrderThenTheCloud(t *testing.T) {
	cloud, err := simulated.New(simulated.Fixture{Hosts: []simulated.Host{{Name: "compute1"}}}, clock.NewFake(epoch))
	if err != nil {
		t.Fatal(err)
	}
	in := engine.Store{"process_name": "nova-compute", "host_name": "compute1", "n": 3}
	v, nova, err := base{cloud: cloud}.begin(in, "process_name", "host_name")
	if err != nil || !slices.Equal(v, []string{"nova-compute", "compute1"}) || nova != cloud {
		t.Fatalf("begin = %v, %v, %v; want the inputs in order and the cloud", v, nova, err)
	}
	// A bad input is named before a missing cloud is.
	for key, want := range map[string]string{"host": `store key "host" is missing`, "n": `store key "n" is int, want a string`} {
		if _, _, err := (base{}).begin(in, "host_name", key); err == nil || err.Error() != want {
			t.Errorf("begin(%s): err = %v, want %q", key, err, want)
		}
	}
	if _, _, err := (base{}).begin(in, "host_name"); err == nil || !strings.Contains(err.Error(), "no compute cloud configured") {
		t.Errorf("err = %v, want no cloud", err)
	}
}
