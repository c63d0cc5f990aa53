package daemon

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/db"
	"github.com/kaifuku-ha/kaifuku/engine/fence"
)

// reportUnfenced logs, at the start and after each reload, the hosts of the
// segments that a recovery flow would fence but that have no fencing
// device, so that the operator learns of a missing [fencing:HOST] section
// from the load and not from a failed recovery. The simulated cloud gives
// every host a BMC; hosts added through the API later are not reported
// until the next load.
func (d *Daemon) reportUnfenced(cfg *conf.Config, flows map[conf.FlowKind]*engine.Flow) {
	if d.cloud.Simulated != nil || !fences(flows) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	missing, err := unfencedHosts(ctx, d.db, cfg.Fencing)
	if err != nil {
		d.log.Warnf("fencing: cannot check the segments' hosts for fencing sections: %v", err)
		return
	}
	if len(missing) == 0 {
		return
	}
	then := "their recoveries stop at fence_host_task ([fencing] required = true)"
	if !cfg.Fencing.Required {
		then = "they are recovered without fencing ([fencing] required = false)"
	}
	d.log.Warnf("fencing: %d host(s) of the segments have no [fencing:HOST] section in %s: %s; %s",
		len(missing), strings.Join(cfg.Files, ", "), strings.Join(missing, ", "), then)
}

// fences says whether a flow runs fence_host_task.
func fences(flows map[conf.FlowKind]*engine.Flow) bool {
	for _, f := range flows {
		for _, t := range f.Tasks() {
			if t.Spec.Name == fence.TaskName {
				return true
			}
		}
	}
	return false
}

// unfencedHosts lists the hosts of every segment without a fencing
// section, as "HOST (segment NAME)", in order.
func unfencedHosts(ctx context.Context, store *db.DB, f conf.Fencing) ([]string, error) {
	segs, err := store.Segments(ctx, db.SegmentFilter{}, db.Page{})
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, s := range segs {
		hosts, err := store.Hosts(ctx, s.UUID, db.HostFilter{}, db.Page{})
		if err != nil {
			return nil, fmt.Errorf("segment %s: %w", s.Name, err)
		}
		for _, h := range hosts {
			if _, ok := f.Hosts[h.Name]; !ok {
				missing = append(missing, fmt.Sprintf("%s (segment %s)", h.Name, s.Name))
			}
		}
	}
	sort.Strings(missing)
	return missing, nil
}
