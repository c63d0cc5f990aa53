package builtin

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

// Progress messages of prepare_HA_enabled_instances_task (Masakari's).
const (
	msgPreparing     = "Preparing instances for evacuation"                                                                  // 0.0
	msgTotalOnHost   = "Total instances running on failed host '%s' is %d"                                                   // 0.3
	msgIgnoringError = "Ignoring recovery of HA_Enabled instance '%s' as it is in 'error' state."                            // 0.4
	msgTotalHA       = "Total HA Enabled instances count: '%d'"                                                              // 0.6
	msgTotalNonHA    = "Total Non-HA Enabled instances count: '%d'"                                                          // 0.7
	msgAllConsidered = "All instances (HA Enabled/Non-HA Enabled) should be considered for evacuation. Total count is: '%d'" // 0.8
	msgSkippedHost   = "Skipped host '%s' recovery as no instances needs to be evacuated"                                    // 1.0
	msgToBeEvacuated = "Instances to be evacuated are: '%s'"                                                                 // 1.0
)

// PrepareHAEnabledInstances is prepare_HA_enabled_instances_task: it lists
// the servers of the failed host and keeps those to evacuate, HA-enabled
// ones first ([host_failure] ha_enabled_instance_metadata_key), then, with
// evacuate_all_instances, the others. With ignore_instances_in_error_state,
// servers in vm_state error are dropped. No server to evacuate ends the flow
// with a skip (notification finished). It provides instance_list.
type PrepareHAEnabledInstances struct{ base }

// Execute provides instance_list for host_name.
func (t *PrepareHAEnabledInstances) Execute(ctx context.Context, env *engine.Env, in engine.Store) (engine.Store, error) {
	host, nova, log, err := t.beginOne(env, in, engine.KeyHostName, "host")
	if err != nil {
		return nil, err
	}
	env.Progress(msgPreparing, 0.0)
	servers, err := nova.ListServers(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("list servers on host %q: %w", host, err)
	}
	env.Progress(fmt.Sprintf(msgTotalOnHost, host, len(servers)), 0.3)

	names := t.filter(env, servers)
	if len(names) == 0 {
		msg := fmt.Sprintf(msgSkippedHost, host)
		env.Progress(msg, 1.0)
		log.Info(msg)
		return nil, engine.Skip("%s", msg)
	}
	ids := make([]any, len(names))
	for i, id := range names {
		ids[i] = id
	}
	env.Progress(fmt.Sprintf(msgToBeEvacuated, strings.Join(names, ",")), 1.0)
	return engine.Store{KeyInstanceList: ids}, nil
}

// filter returns the ids of the servers to evacuate: HA-enabled first, then
// the others when evacuate_all_instances, each group in Nova's list order.
func (t *PrepareHAEnabledInstances) filter(env *engine.Env, servers []compute.Server) []string {
	opt := t.opt.host
	// One array for both groups: the HA-enabled from the front, the others
	// from the back (reversed into place below).
	ids := make([]string, len(servers))
	nHA, nOther := 0, 0
	for _, s := range servers {
		enabled := truthy(s.Metadata, opt.HAEnabledInstanceMetadataKey)
		if opt.IgnoreInstancesInErrorState && s.VMState == vmError {
			if enabled {
				msg := fmt.Sprintf(msgIgnoringError, s.ID)
				envLog(env).Info(msg)
				env.Progress(msg, 0.4)
			}
			continue
		}
		if enabled {
			ids[nHA] = s.ID
			nHA++
		} else {
			nOther++
			ids[len(ids)-nOther] = s.ID
		}
	}
	env.Progress(fmt.Sprintf(msgTotalHA, nHA), 0.6)
	if !opt.EvacuateAllInstances {
		return ids[:nHA:nHA]
	}
	env.Progress(fmt.Sprintf(msgTotalNonHA, nOther), 0.7)
	others := ids[len(ids)-nOther:]
	slices.Reverse(others)
	ids = append(ids[:nHA], others...)
	env.Progress(fmt.Sprintf(msgAllConsidered, len(ids)), 0.8)
	return ids
}
