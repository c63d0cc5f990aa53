package simcloud_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simcloud"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

const python = "/usr/bin/python3"

// needPython skips when Debian's python3 or the named module is absent,
// except in CI, where the packages are installed and the test must run.
func needPython(t *testing.T, module, pkg string) {
	t.Helper()
	err := exec.Command(python, "-c", "import "+module).Run()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s cannot import %s (Debian package %s): %v", python, module, pkg, err)
	}
	t.Skipf("%s cannot import %s: install Debian's %s", python, module, pkg)
}

func runPython(t *testing.T, script string, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-c", script)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	return string(out)
}

// wantOutput fails the test for each of wants that what's output out lacks.
func wantOutput(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("%s output lacks %q:\n%s", what, want, out)
		}
	}
}

func startBed(t *testing.T, password string) (string, *simulated.Cloud) {
	cloud, err := simulated.New(bedFixture(), clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(simcloud.New(cloud, simcloud.Options{Password: password}))
	t.Cleanup(srv.Close)
	return srv.URL, cloud
}

// python-novaclient through keystoneauth, as Masakari builds it: password
// login, microversion 2.53, list, force down, disable, evacuate.
func TestNovaclient(t *testing.T) {
	needPython(t, "novaclient", "python3-novaclient")
	url, cloud := startBed(t, "secret")
	out := runPython(t, `
import os
from keystoneauth1 import loading, session
from novaclient import client
auth = loading.get_plugin_loader('password').load_from_options(
    auth_url=os.environ['SIM_URL'] + '/v3', username='masakari', password='secret',
    project_name='service', user_domain_name='Default', project_domain_name='Default')
nova = client.Client('2.53', session=session.Session(auth=auth), region_name='RegionOne')
servers = nova.servers.list(search_opts={'host': 'compute1', 'all_tenants': True})
print('servers', sorted(s.name for s in servers))
print('host', getattr(servers[0], 'OS-EXT-SRV-ATTR:host'), getattr(servers[0], 'OS-EXT-STS:vm_state'))
svc = nova.services.list(host='compute1', binary='nova-compute')[0]
print('service', svc.host, svc.status, svc.state)
nova.services.force_down(svc.id, True)
nova.services.disable_log_reason(svc.id, 'host failed')
svc = nova.services.list(host='compute1', binary='nova-compute')[0]
print('after', svc.status, svc.state, svc.forced_down, svc.disabled_reason)
for s in servers:
    nova.servers.evacuate(s, host='compute2')
try:
    nova.servers.evacuate(servers[0], host='compute2')
except Exception as e:
    print('second', type(e).__name__, getattr(e, 'code', None))
s = nova.servers.get(servers[0].id)
print('evacuated', getattr(s, 'OS-EXT-SRV-ATTR:host'), s.status)
`, "SIM_URL="+url)
	wantOutput(t, "novaclient", out,
		"servers ['smoke-1', 'smoke-2', 'smoke-3']",
		"host compute1 active",
		"service compute1 enabled up",
		"after disabled down True host failed",
		"evacuated compute2 ACTIVE",
	)
	if ev := cloud.Counters().Evacuations; ev[bedSmoke1] != 1 || ev[bedSmoke2] != 1 || ev[bedSmoke3] != 1 {
		t.Errorf("evacuations accepted: %v", ev)
	}
	// the second evacuation of an evacuated server: its new host is up
	if !strings.Contains(out, "second BadRequest 400") {
		t.Errorf("second evacuation not refused with 400:\n%s", out)
	}
}

// openstacksdk, as the openstack CLI uses it: clouds from the environment,
// version discovery, services, servers, evacuate.
func TestOpenstacksdk(t *testing.T) {
	needPython(t, "openstack", "python3-openstacksdk")
	url, cloud := startBed(t, "")
	out := runPython(t, `
import openstack
conn = openstack.connect(auth_url=__import__('os').environ['SIM_URL'] + '/v3', username='admin', password='x',
    project_name='admin', user_domain_name='Default', project_domain_name='Default', region_name='RegionOne',
    compute_api_version='2.53')
svcs = list(conn.compute.services(binary='nova-compute'))
print('services', sorted(s.host for s in svcs))
c1 = [s for s in svcs if s.host == 'compute1'][0]
conn.compute.update_service_forced_down(c1, host='compute1', binary='nova-compute', forced=True)
servers = list(conn.compute.servers(all_projects=True, host='compute1'))
print('servers', sorted(s.name for s in servers), servers[0].compute_host)
# Server.evacuate sends no microversion (2.1 needs onSharedStorage, as in
# Nova): post the 2.53 body through the compute adapter instead
r = conn.compute.post('/servers/%s/action' % servers[0].id, json={'evacuate': {'host': 'compute2'}},
                      microversion='2.53')
print('evacuate', r.status_code, r.headers.get('OpenStack-API-Version'))
try:
    conn.compute.evacuate_server(servers[1], host='compute2')
except openstack.exceptions.BadRequestException as e:
    print('sdk evacuate at 2.1', e.status_code, 'onSharedStorage' in str(e))
s = conn.compute.get_server(servers[0].id)
print('evacuated', s.compute_host, s.status)
`, "SIM_URL="+url)
	wantOutput(t, "openstacksdk", out,
		"services ['compute1', 'compute2']",
		"servers ['smoke-1', 'smoke-2', 'smoke-3'] compute1",
		"evacuate 200 compute 2.53",
		"sdk evacuate at 2.1 400 True",
		"evacuated compute2 ACTIVE",
	)
	if n := cloud.Counters().Ops["force_down"]; n != 1 {
		t.Errorf("force_down calls: %d", n)
	}
}

// masakariConf configures Masakari's Nova client as a masakari.conf would,
// for the simulated cloud at $SIM_URL (Python, after "import os" and
// "import masakari.conf").
const masakariConf = `CONF = masakari.conf.CONF
CONF([], project='masakari')
CONF.set_override('os_privileged_user_name', 'masakari')
CONF.set_override('os_privileged_user_password', 'masakari-secret')
CONF.set_override('os_privileged_user_tenant', 'service')
CONF.set_override('os_privileged_user_auth_url', os.environ['SIM_URL'] + '/v3')
CONF.set_override('auth_type', 'password', group='keystone_authtoken')
`

// Masakari's own Nova client code (masakari.compute.nova.API, Debian's
// python3-masakari), configured as a masakari.conf would: every call its
// tasks make, with the exceptions it translates Nova's errors into.
func TestMasakariNovaAPI(t *testing.T) {
	needPython(t, "masakari.compute.nova", "python3-masakari")
	url, cloud := startBed(t, "masakari-secret")
	out := runPython(t, `
import os, sys
from oslo_config import cfg
import masakari.conf
from masakari import context as mctx, exception
from masakari.compute import nova as mnova
`+masakariConf+`CONF.set_override('os_region_name', 'RegionOne')
ctx = mctx.get_admin_context()
api = mnova.API()
api.find_compute_service(ctx, 'compute1')
try:
    api.find_compute_service(ctx, 'compute9')
except exception.ComputeNotFoundByName as e:
    print('not found', type(e).__name__)
s1 = os.environ['SMOKE1']
print('servers', sorted(s.name for s in api.get_servers(ctx, 'compute1')))
s = api.get_server(ctx, s1)
print('server', getattr(s, 'OS-EXT-SRV-ATTR:hypervisor_hostname'), getattr(s, 'OS-EXT-STS:vm_state'), s.metadata['HA_Enabled'])
api.stop_server(ctx, s1)
print('stopped', api.get_server(ctx, s1).status)
api.start_server(ctx, s1)
print('started', api.get_server(ctx, s1).status)
api.lock_server(ctx, s1); print('locked', api.get_server(ctx, s1).locked)
api.unlock_server(ctx, s1); print('unlocked', api.get_server(ctx, s1).locked)
api.reset_instance_state(ctx, s1, 'error'); print('reset', api.get_server(ctx, s1).status)
api.reset_instance_state(ctx, s1, 'active')
agg = [a for a in api.get_aggregate_list(ctx) if a.name == 'smoke-agg'][0]
api.add_host_to_aggregate(ctx, 'compute2', agg)
print('aggregate', sorted(api.get_aggregate_list(ctx)[0].hosts))
try:
    api.add_host_to_aggregate(ctx, 'compute2', agg)
except exception.Conflict as e:
    print('conflict', type(e).__name__)
try:
    api.evacuate_instance(ctx, s1)
except exception.InvalidInput as e:
    print('refused while up', type(e).__name__)
try:
    api.get_server(ctx, '00000000-0000-4000-8000-000000000000')
except exception.NotFound as e:
    print('missing', type(e).__name__)
api.enable_disable_service(ctx, 'compute1', enable=False, reason='masakari: host failure')
print('disabled', api.is_service_disabled(ctx, 'compute1', 'nova-compute'))
`, "SIM_URL="+url, "SMOKE1="+bedSmoke1)
	wantOutput(t, "Masakari's client", out,
		"not found ComputeNotFoundByName",
		"servers ['smoke-1', 'smoke-2', 'smoke-3']",
		"server compute1 active True",
		"stopped SHUTOFF", "started ACTIVE", "locked True", "unlocked False", "reset ERROR",
		"aggregate ['compute1', 'compute2']",
		"conflict Conflict",
		"refused while up InvalidInput",
		"missing NotFound",
		"disabled True",
	)
	// then the host dies: Masakari's evacuate goes through
	if err := cloud.FailHost("compute1"); err != nil {
		t.Fatal(err)
	}
	out = runPython(t, `
import os
import masakari.conf
from masakari import context as mctx
from masakari.compute import nova as mnova
`+masakariConf+`ctx = mctx.get_admin_context()
api = mnova.API()
nc = mnova.novaclient(ctx)
svc = nc.services.list(host='compute1', binary='nova-compute')[0]
nc.services.force_down(svc.id, True)
api.evacuate_instance(ctx, os.environ['SMOKE1'])
print('evacuated to', getattr(api.get_server(ctx, os.environ['SMOKE1']), 'OS-EXT-SRV-ATTR:host'))
`, "SIM_URL="+url, "SMOKE1="+bedSmoke1)
	if !strings.Contains(out, "evacuated to compute2") {
		t.Errorf("Masakari's evacuation:\n%s", out)
	}
	if ev := cloud.Counters().Evacuations[bedSmoke1]; ev != 1 {
		t.Errorf("evacuations of smoke-1: %d", ev)
	}
}
