package script

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

// tagEvacuated is the complete example of the "Writing Lua tasks" guide.
const tagEvacuated = `-- tag_evacuated: check where the evacuated instances run now.
local M = {}

function M.where(id)
  local server, err = cloud.get_server(id)
  if not server then
    log.warn("instance not found after evacuation", {instance = id, error = err})
    return nil
  end
  return server.host
end

return {
  requires = {"host_name", "instance_list"},
  provides = {"evacuation_report"},
  timeout = 20,

  execute = function(store)
    local moved, missing = {}, {}
    for i, id in ipairs(store.instance_list) do
      local host = M.where(id)
      if host and host ~= store.host_name then
        moved[#moved + 1] = {id = id, host = host}
      else
        missing[#missing + 1] = id
      end
      progress(string.format("checked %d of %d", i, #store.instance_list), i / #store.instance_list)
    end
    if #missing > 0 and config.bool("strict", false) then
      error(#missing .. " instance(s) are still on " .. store.host_name .. ": " .. table.concat(missing, ", "))
    end
    return {evacuation_report = {failed_host = store.host_name, moved = moved, missing = missing}}
  end,
}
`

func TestGuideExample(t *testing.T) {
	cl := &fakeCloud{servers: []compute.Server{{ID: "s-1", Host: "compute2"}, {ID: "s-2", Host: "compute1"}}}
	cfg := conf.Defaults()
	cfg.Sections = map[string]conf.Section{"tag_evacuated": {Name: "tag_evacuated", Values: map[string]string{"strict": "false"}}}
	f := newFixture(t, Options{Cloud: cl, Config: cfg}, map[string]string{"tag_evacuated.lua": tagEvacuated})
	var list []any
	f.addGo("prepare", []string{"instance_list"}, func(engine.Store) (engine.Store, error) {
		return engine.Store{"instance_list": list}, nil
	})
	list = []any{"s-1", "s-2", "s-3"}
	res := f.runHost(engine.Store{"host_name": "compute1"}, "prepare", "tag_evacuated")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	want := map[string]any{"failed_host": "compute1", "moved": []any{map[string]any{"id": "s-1", "host": "compute2"}},
		"missing": []any{"s-2", "s-3"}}
	if d := cmp.Diff(want, res.Store["evacuation_report"]); d != "" {
		t.Fatal(d)
	}
	if n := len(res.Tasks[1].Details); n != 3 {
		t.Fatalf("%d progress entries", n)
	}
	cfg.Sections["tag_evacuated"].Values["strict"] = "true"
	list = []any{"s-2"}
	res = f.runHost(engine.Store{"host_name": "compute1"}, "prepare", "tag_evacuated")
	if res.Err == nil || !strings.Contains(res.Err.Error(), "scripts/tag_evacuated.lua:30: 1 instance(s) are still on compute1: s-2") {
		t.Fatalf("%v", res.Err)
	}
}
