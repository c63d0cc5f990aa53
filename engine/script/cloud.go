package script

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"

	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

// The cloud module is read-only: it shows servers and services with Nova's
// field names and never changes anything.

func (rs *runState) cloudFor(L *lua.LState, fn string) (*call, compute.Cloud) {
	c := rs.running(L, fn, true)
	if rs.set.cloud == nil {
		L.RaiseError("%s: no cloud is configured for Lua tasks", fn)
	}
	return c, rs.set.cloud
}

func (rs *runState) serverTable(L *lua.LState, s compute.Server) *lua.LTable {
	t := L.CreateTable(0, 12)
	set := func(k, v string) { t.RawSetString(k, lua.LString(v)) }
	set("id", s.ID)
	set("name", s.Name)
	set("status", s.Status)
	set("host", s.Host)
	set("hypervisor_hostname", s.HypervisorHostname)
	set("vm_state", s.VMState)
	if s.TaskState != "" {
		set("task_state", s.TaskState)
	}
	t.RawSetString("power_state", lua.LNumber(s.PowerState))
	t.RawSetString("locked", lua.LBool(s.Locked))
	set("tenant_id", s.TenantID)
	set("user_id", s.UserID)
	md := L.CreateTable(0, len(s.Metadata))
	for _, k := range sortedKeys(s.Metadata) {
		md.RawSetString(k, lua.LString(s.Metadata[k]))
	}
	if len(s.Metadata) == 0 {
		md.Metatable = rs.objMT
	}
	t.RawSetString("metadata", md)
	return t
}

func (rs *runState) cloudGetServer(L *lua.LState) int {
	c, cl := rs.cloudFor(L, "cloud.get_server")
	id := L.CheckString(1)
	s, err := cl.GetServer(c.ctx, id)
	if err != nil {
		return pushErr(L, fmt.Sprintf("cloud.get_server(%q): %v", id, err))
	}
	L.Push(rs.serverTable(L, s))
	return 1
}

func (rs *runState) cloudListServers(L *lua.LState) int {
	c, cl := rs.cloudFor(L, "cloud.list_servers")
	var host string
	switch v := L.Get(1).(type) {
	case lua.LString:
		host = string(v)
	case *lua.LTable:
		host = lua.LVAsString(v.RawGetString("host"))
	}
	if host == "" {
		L.RaiseError("cloud.list_servers: give the host, as cloud.list_servers{host = \"compute1\"}")
	}
	servers, err := cl.ListServers(c.ctx, host)
	if err != nil {
		return pushErr(L, fmt.Sprintf("cloud.list_servers{host=%q}: %v", host, err))
	}
	out := L.CreateTable(len(servers), 0)
	if len(servers) == 0 {
		out.Metatable = rs.arrayMT
	}
	for _, s := range servers {
		out.Append(rs.serverTable(L, s))
	}
	L.Push(out)
	return 1
}

func (rs *runState) cloudGetService(L *lua.LState) int {
	c, cl := rs.cloudFor(L, "cloud.get_service")
	host := L.CheckString(1)
	svcs, err := cl.ListServices(c.ctx, host, "nova-compute")
	if err != nil {
		return pushErr(L, fmt.Sprintf("cloud.get_service(%q): %v", host, err))
	}
	if len(svcs) == 0 {
		return pushErr(L, fmt.Sprintf("cloud.get_service(%q): no nova-compute service on that host: %v", host, compute.ErrNotFound))
	}
	s := svcs[0]
	t := L.CreateTable(0, 7)
	t.RawSetString("id", lua.LString(s.ID))
	t.RawSetString("binary", lua.LString(s.Binary))
	t.RawSetString("host", lua.LString(s.Host))
	t.RawSetString("status", lua.LString(s.Status))
	t.RawSetString("state", lua.LString(s.State))
	t.RawSetString("forced_down", lua.LBool(s.ForcedDown))
	if s.DisabledReason != "" {
		t.RawSetString("disabled_reason", lua.LString(s.DisabledReason))
	}
	L.Push(t)
	return 1
}
