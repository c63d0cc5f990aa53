package conf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Defaults is written out in full: the engine, [host_failure],
// [instance_failure] and [process_failure] options are Masakari's documented
// defaults, which the built-in tasks assume (their default flows are checked
// against Masakari's sample by TestFlowMasakariSample).
func TestDefaults(t *testing.T) {
	c := Defaults()
	wd, _ := os.Getwd()
	want := &Config{
		StateDir: "/var/lib/kaifuku",
		Flows:    DefaultFlows(),
		Engine: Engine{
			DuplicateNotificationDetectionInterval: 180 * time.Second,
			WaitPeriodAfterServiceUpdate:           180 * time.Second,
			WaitPeriodAfterEvacuation:              90 * time.Second,
			VerifyInterval:                         time.Second,
			WaitPeriodAfterPowerOff:                180 * time.Second,
			WaitPeriodAfterPowerOn:                 60 * time.Second,
			ProcessUnfinishedNotificationsInterval: 120 * time.Second,
			RetryNotificationNewStatusInterval:     60 * time.Second,
			CheckExpiredNotificationsInterval:      600 * time.Second,
			NotificationsExpiredInterval:           86400 * time.Second,
			HostFailureRecoveryThreads:             3,
		},
		HostFailure:     HostFailure{EvacuateAllInstances: true, HAEnabledInstanceMetadataKey: "HA_Enabled", ServiceDisableReason: "Masakari detected host failed."},
		StormGuard:      StormGuard{Window: 600 * time.Second},
		InstanceFailure: InstanceFailure{HAEnabledInstanceMetadataKey: "HA_Enabled"},
		ProcessFailure:  ProcessFailure{ServiceDisableReason: "Masakari detected process failed."},
		Lua:             Lua{ScriptsDir: filepath.Join(wd, "scripts"), TaskTimeout: 30 * time.Second, MemoryLimitMiB: 256},
		SMTP:            SMTP{Host: "localhost", Port: 25, From: "kaifuku@localhost", Timeout: 30 * time.Second},
		API:             API{Listen: "127.0.0.1:15868", AuthStrategy: "token", TokenFile: "/var/lib/kaifuku/tokens", MaxBodyBytes: 1 << 20, WorkerCount: 4, GracePeriod: 30 * time.Second, ClientTimeout: time.Minute},
		Compute:         Compute{Driver: "simulated"},
		Nova:            Nova{UserDomainName: "Default", ProjectDomainName: "Default", Interface: "public", Timeout: 60 * time.Second},
		Keystone: Keystone{AuthType: "password", UserDomainName: "Default", ProjectDomainName: "Default",
			TokenCacheTime: 300 * time.Second, HTTPConnectTimeout: 10 * time.Second},
		Database: Database{Connection: "sqlite:////var/lib/kaifuku/kaifuku.db", LeaseSeconds: 60 * time.Second},
		Fencing:  Fencing{Required: true, Timeout: 60 * time.Second, AgentDir: "/usr/sbin"},
		Sections: map[string]Section{},
	}
	if d := cmp.Diff(want, c); d != "" {
		t.Errorf("Defaults (-want +got):\n%s", d)
	}
	if p, ok := c.Database.SQLitePath(); !ok || p != "/var/lib/kaifuku/kaifuku.db" {
		t.Errorf("SQLitePath = %q %v", p, ok)
	}
	// Load without files is Defaults.
	l, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(c, l); d != "" {
		t.Errorf("Load() differs from Defaults: %s", d)
	}
}

const everyOption = `[DEFAULT]
state_dir = state
scripts_dir = lua
duplicate_notification_detection_interval = 0
wait_period_after_service_update = 10
wait_period_after_evacuation = 11
verify_interval = 2
wait_period_after_power_off = 12
wait_period_after_power_on = 13
process_unfinished_notifications_interval = 14
retry_notification_new_status_interval = 15
check_expired_notifications_interval = 16
notifications_expired_interval = 17
host_failure_recovery_threads = 8
debug = true
log_dir = /var/log/masakari
transport_url = rabbit://masakari:pw@ctl:5672/

[host_failure]
evacuate_all_instances = False
ha_enabled_instance_metadata_key = HA
ignore_instances_in_error_state = yes
add_reserved_host_to_aggregate = ON
service_disable_reason = "Disabled by kaifuku."
force_down_service = 1

[instance_failure]
process_all_instances = true
ha_enabled_instance_metadata_key = HA2

[process_failure]
service_disable_reason = proc down

[lua]
task_timeout = 1m30s
http_allowed_hosts = alerts.example.com, 10.0.0.5:8080 ,[::1]:443
memory_limit_mib = 64

[smtp]
host = mail.example.com
port = 587
from = ha@example.com
starttls = true
username = ha
password = s3cret
timeout = 5

[api]
listen = 0.0.0.0:8080
auth_strategy = noauth
token_file = tokens.txt
accept_token_file = true
max_body_bytes = 2048
workers = 2
grace_period = 500ms
client_timeout = 45s

[compute]
driver = nova
fixture = cloud.json
max_concurrent_evacuations = 32
max_requests_per_second = 50

[nova]
auth_url = https://keystone.example.com:5000/v3
username = masakari
password = pw
project_name = service
user_domain_name = Users
project_domain_name = Projects
region_name = RegionTwo
interface = internal
cafile = ca.pem
insecure = true
timeout = 20
token = tok
endpoint = https://nova.example.com:8774/v2.1

[database]
connection = sqlite:///db/k.db
lease_seconds = 15
max_pool_size = 5

[keystone_authtoken]
www_authenticate_uri = https://keystone.example.com/v3
auth_uri = https://old.example.com/v3
auth_url = https://keystone-int.example.com:5000/v3
auth_type = password
username = kaifuku
password = ks-pw
project_name = service
user_domain_name = Users
user_domain_id = users
project_domain_name = Projects
project_domain_id = projects
region_name = RegionTwo
cafile = ks-ca.pem
insecure = true
token_cache_time = -1
http_connect_timeout = 3
memcached_servers = ctl:11211

[oslo_policy]
policy_file = masakari-policy.yaml
enforce_scope = true

[send_alert_mail]
to = ops@example.com
`

func TestEveryOption(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "etc/kaifuku.conf", everyOption)
	c, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	etc := filepath.Join(dir, "etc")
	want := Defaults()
	want.Files = []string{f}
	want.StateDir = filepath.Join(etc, "state")
	want.Engine = Engine{0, 10 * time.Second, 11 * time.Second, 2 * time.Second, 12 * time.Second, 13 * time.Second, 14 * time.Second, 15 * time.Second, 16 * time.Second, 17 * time.Second, 8}
	want.HostFailure = HostFailure{false, "HA", true, true, "Disabled by kaifuku.", true}
	want.InstanceFailure = InstanceFailure{true, "HA2"}
	want.ProcessFailure = ProcessFailure{"proc down"}
	want.Lua = Lua{filepath.Join(etc, "lua"), 90 * time.Second, []string{"alerts.example.com", "10.0.0.5:8080", "[::1]:443"}, 64}
	want.SMTP = SMTP{"mail.example.com", 587, "ha@example.com", true, "ha", "s3cret", 5 * time.Second}
	want.API = API{"0.0.0.0:8080", "noauth", filepath.Join(etc, "tokens.txt"), true, 2048, 2, 500 * time.Millisecond, 45 * time.Second, "", ""}
	want.Compute = Compute{"nova", filepath.Join(etc, "cloud.json"), 32, 50}
	want.Nova = Nova{"https://keystone.example.com:5000/v3", "masakari", "pw", "service", "Users", "Projects", "RegionTwo", "internal", filepath.Join(etc, "ca.pem"), true, 20 * time.Second, "tok", "https://nova.example.com:8774/v2.1"}
	want.Database = Database{"sqlite:///" + filepath.Join(etc, "db/k.db"), 15 * time.Second}
	want.Log = Log{Debug: true, Dir: "/var/log/masakari"}
	want.Keystone = Keystone{"https://keystone.example.com/v3", "https://keystone-int.example.com:5000/v3", "password", "kaifuku", "ks-pw",
		"service", "Users", "users", "Projects", "projects", "RegionTwo", filepath.Join(etc, "ks-ca.pem"), true, -time.Second, 3 * time.Second,
		[]string{"memcached_servers"}}
	want.Policy = Policy{filepath.Join(etc, "masakari-policy.yaml")}
	want.Sections = map[string]Section{"send_alert_mail": {Name: "send_alert_mail", Pos: Pos{File: f, Line: 107},
		Values: map[string]string{"to": "ops@example.com"}, KeyPos: map[string]Pos{"to": {File: f, Line: 108}}}}
	want.Unused = []UnusedOption{
		{Pos{File: f, Line: 17}, "DEFAULT", "transport_url"}, {Pos{File: f, Line: 82}, "database", "max_pool_size"},
		{Pos{File: f, Line: 101}, KeystoneSection, "memcached_servers"}, {Pos{File: f, Line: 105}, "oslo_policy", "enforce_scope"}}
	if d := cmp.Diff(want, c); d != "" {
		t.Errorf("config (-want +got):\n%s", d)
	}
}

// Derived defaults follow state_dir; scripts_dir defaults beside the first
// file.
func TestStateDirAndScriptsDir(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a/first.conf", "[DEFAULT]\n")
	b := writeFile(t, dir, "b/second.conf", "[DEFAULT]\nstate_dir = /srv/k\n")
	c, err := Load(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if c.Lua.ScriptsDir != filepath.Join(dir, "a", "scripts") {
		t.Errorf("scripts_dir = %s", c.Lua.ScriptsDir)
	}
	if c.API.TokenFile != "/srv/k/tokens" || c.Database.Connection != "sqlite:////srv/k/kaifuku.db" {
		t.Errorf("derived: %s %s", c.API.TokenFile, c.Database.Connection)
	}
	if !reflectFiles(c.Files, a, b) {
		t.Errorf("Files = %v", c.Files)
	}
}

func reflectFiles(got []string, want ...string) bool { return cmp.Equal(got, want) }

// Later files override earlier ones, option by option; relative paths
// resolve against the file that set them; problems of every file are
// reported, in file order.
func TestMultiFileOverride(t *testing.T) {
	dir := t.TempDir()
	masakari := writeFile(t, dir, "masakari/masakari.conf", `[DEFAULT]
verify_interval = 5
wait_period_after_evacuation = 30
os_privileged_user_name = nova-admin
os_privileged_user_auth_url = http://keystone/v3
nova_ca_certificates_file = ca.pem
[database]
connection = mysql+pymysql://masakari:topsecret@ctl/masakari
[taskflow_driver_recovery_flows]
instance_failure_recovery_tasks = pre:['a'],main:['b'],post:[]
process_failure_recovery_tasks = pre:[],main:['x'],post:[]
[send_alert_mail]
to = a@example.com
subject = hi
`)
	kaifuku := writeFile(t, dir, "kaifuku/kaifuku.conf", `[DEFAULT]
verify_interval = 2
[nova]
username = kaifuku
[database]
connection = sqlite:///k.db
[taskflow_driver_recovery_flows]
instance_failure_recovery_tasks = pre:[],main:['c'],post:[]
[send_alert_mail]
to = b@example.com
`)
	c, err := Load(masakari, kaifuku)
	if err != nil {
		t.Fatal(err)
	}
	if c.Engine.VerifyInterval != 2*time.Second || c.Engine.WaitPeriodAfterEvacuation != 30*time.Second {
		t.Errorf("engine: %+v", c.Engine)
	}
	if c.Nova.Username != "kaifuku" || c.Nova.AuthURL != "http://keystone/v3" || c.Nova.CAFile != filepath.Join(dir, "masakari", "ca.pem") {
		t.Errorf("nova: %+v", c.Nova)
	}
	if c.Database.Connection != "sqlite:///"+filepath.Join(dir, "kaifuku", "k.db") {
		t.Errorf("connection = %s", c.Database.Connection)
	}
	if got := names(c.Flows[FlowInstance]); !cmp.Equal(got, [3][]string{{}, {"c"}, {}}) {
		t.Errorf("instance flow = %v", got)
	}
	if got := c.Flows[FlowInstance].Phases[Main][0].Pos; got != (Pos{File: kaifuku, Line: 8, Col: 49}) {
		t.Errorf("position of c = %v", got)
	}
	if got := names(c.Flows[FlowProcess]); !cmp.Equal(got, [3][]string{{}, {"x"}, {}}) {
		t.Errorf("process flow from the first file = %v", got)
	}
	s := c.Sections["send_alert_mail"]
	if s.Values["to"] != "b@example.com" || s.Values["subject"] != "hi" || s.KeyPos["to"].File != kaifuku || s.Pos.File != masakari {
		t.Errorf("task section merged wrong: %+v", s)
	}

	// Without the override, Masakari's MySQL database is refused, without
	// its password.
	_, err = Load(masakari)
	if err == nil || !strings.Contains(err.Error(), `masakari.conf:8: [database] connection: unsupported database "mysql+pymysql"`) || strings.Contains(err.Error(), "topsecret") {
		t.Errorf("got %v", err)
	}

	// Problems of both files, in file order.
	bad1 := writeFile(t, dir, "bad1.conf", "[DEFAULT]\nverify_interval = 9o\n[lua]\nmemory_limit_mb = 3\n")
	bad2 := writeFile(t, dir, "bad2.conf", "[api]\nworkers = 0\n  x\n")
	_, err = Load(bad1, filepath.Join(dir, "missing.conf"), bad2)
	msg := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
	golden(t, "load-multi-file-errors", msg)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Errorf("not a *conf.Error: %T", err)
	}
}

// A bad value in an earlier file is no problem when a later file replaces it
// (oslo.config only reads the effective value).
func TestOverriddenBadValue(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.conf", "[DEFAULT]\nverify_interval = 9o\n[taskflow_driver_recovery_flows]\nprocess_failure_recovery_tasks = {pre:[]}\n")
	b := writeFile(t, dir, "b.conf", "[DEFAULT]\nverify_interval = 3\n[taskflow_driver_recovery_flows]\nprocess_failure_recovery_tasks = pre:[],main:[],post:[]\n")
	if _, err := Load(a, b); err != nil {
		t.Fatal(err)
	}
}

func TestAliases(t *testing.T) {
	c := mustParse(t, "masakari.conf", `[DEFAULT]
os_privileged_user_name = admin
os_privileged_user_password = pw
os_privileged_user_tenant = services
os_privileged_user_auth_url = http://ctl:5000/v3
os_user_domain_name = default
os_project_domain_name = default
os_region_name = RegionOne
nova_api_insecure = True
nova_ca_certificates_file = /etc/ssl/ca.pem
masakari_api_listen = ::
masakari_api_listen_port = 15999
auth_strategy = noauth2
[nova]
region_name = RegionTwo
`)
	want := Nova{AuthURL: "http://ctl:5000/v3", Username: "admin", Password: "pw", ProjectName: "services",
		UserDomainName: "default", ProjectDomainName: "default", RegionName: "RegionTwo", Interface: "public",
		CAFile: "/etc/ssl/ca.pem", Insecure: true, Timeout: 60 * time.Second}
	if d := cmp.Diff(want, c.Nova); d != "" {
		t.Errorf("nova (-want +got):\n%s", d)
	}
	if c.API.Listen != "[::]:15999" || c.API.AuthStrategy != "noauth" {
		t.Errorf("api: %+v", c.API)
	}
	// [api] wins over the aliases; keystone is Keystone.
	c = mustParse(t, "m.conf", "[DEFAULT]\nmasakari_api_listen_port = 1\nauth_strategy = keystone\n[keystone_authtoken]\nauth_url = http://ks:5000/v3\n")
	if c.API.Listen != "127.0.0.1:1" || c.API.AuthStrategy != "keystone" || c.Keystone.WWWAuthenticateURI != "http://ks:5000/v3" {
		t.Errorf("api: %+v %+v", c.API, c.Keystone)
	}
	c = mustParse(t, "m.conf", "[DEFAULT]\nmasakari_api_listen = 0.0.0.0\nauth_strategy = noauth2\n[api]\nlisten = 127.0.0.1:1\nauth_strategy = token\n")
	if c.API.Listen != "127.0.0.1:1" || c.API.AuthStrategy != "token" {
		t.Errorf("api: %+v", c.API)
	}
}

func TestOptionErrors(t *testing.T) {
	tests := []struct{ name, text string }{
		{"integers", "[DEFAULT]\nverify_interval = 9o\nhost_failure_recovery_threads = 0\nwait_period_after_power_on = -1\nduplicate_notification_detection_interval = 1.5\n"},
		{"booleans", "[host_failure]\nevacuate_all_instances = maybe\n[nova]\ninsecure = 2\n"},
		{"choices", "[api]\nauth_strategy = keystone\n[compute]\ndriver = libvirt\n[nova]\ninterface = private\n"},
		{"addresses", "[api]\nlisten = localhost\n[smtp]\nport = 70000\n[lua]\nhttp_allowed_hosts = https://x.example.com/, ok.example.com\n"},
		{"durations", "[lua]\ntask_timeout = 0\n[api]\ngrace_period = soon\n[database]\nlease_seconds = 0\n"},
		{"empty-values", "[host_failure]\nha_enabled_instance_metadata_key =\n[smtp]\nhost =\n"},
		{"urls", "[nova]\nauth_url = ftp://user:pw@host/\nendpoint = keystone\n"},
		{"connection", "[database]\nconnection = mysql+pymysql://masakari:pw@ctl/masakari\n"},
		{"connection-no-scheme", "[database]\nconnection = /var/lib/k.db\n"},
		{"nova-without-auth", "[compute]\ndriver = nova\n"},
		{"unknown-keys", "[DEFAULT]\ndebug = true\nverify_intervall = 1\nhost = ctl1\nstate_dri = x\nsome_oslo_option = 1\n[lua]\ntasktimeout = 1\nbogus = 1\n[database]\nmax_pool_size = 10\nconection = sqlite:///x\n[host_failure]\nforce_down = true\n"},
		{"masakari-alias-values", "[DEFAULT]\nnova_api_insecure = perhaps\nmasakari_api_listen_port = http\nos_privileged_user_auth_url = keystone\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, "opt-"+tt.name, parseErr(t, "kaifuku.conf", tt.text))
		})
	}
}

// Secrets never appear in messages, whatever else is wrong around them.
func TestSecretsNotInErrors(t *testing.T) {
	const secret = "Zq9-secret-Zq9"
	text := strings.ReplaceAll(`[DEFAULT]
os_privileged_user_password = SECRET
os_privileged_user_auth_url = ftp://admin:SECRET@ctl/
[nova]
password = SECRET
token = SECRET
auth_url = http://admin:SECRET@ctl:5000/
endpoint = nova:SECRET
[smtp]
password = SECRET
port = x
[database]
connection = mysql://u:SECRET@db/x
[lua]
http_allowed_hosts = ok.example.com, user:SECRET@hooks.example.com
[api]
token_file SECRET
`, "SECRET", secret)
	msg := parseErr(t, "k.conf", text)
	if strings.Contains(msg, secret) {
		t.Errorf("secret in:\n%s", msg)
	}
	if !strings.Contains(msg, "k.conf:11: [smtp] port") || !strings.Contains(msg, "k.conf:15: [lua] http_allowed_hosts: invalid host: user information") {
		t.Errorf("other problems not reported:\n%s", msg)
	}
}

func TestUnclaimed(t *testing.T) {
	c := mustParse(t, "masakari.conf", `[DEFAULT]
[keystone_authtoken]
auth_url = http://ctl:5000
[oslo_messaging_notifications]
driver = noop
[taskflow]
connection = mysql://x
[send_alert_mail]
to = x
[coordination]
[wsgi]
[host_failure]
[lua]
`)
	got := c.Unclaimed([]string{"send_alert_mail", "no_op"})
	want := []string{"coordination", "oslo_messaging_notifications", "taskflow", "wsgi"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Unclaimed (-want +got):\n%s", d)
	}
	if s := c.TaskSection("send_alert_mail"); s.Values["to"] != "x" || s.KeyPos["to"].Line != 9 {
		t.Errorf("task section %+v", s)
	}
	if s := c.TaskSection("absent"); s.Values == nil {
		t.Error("absent task section has nil maps")
	}
}

func TestMissingFile(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(filepath.Join(dir, "nope.conf"))
	var ce *Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "nope.conf: cannot read the file: no such file or directory") {
		t.Errorf("got %v", err)
	}
}

// The sample file documents every option with its true default: with every
// "#key = value" line uncommented it reads as Defaults, and no option is
// missing from it.
func TestExampleFile(t *testing.T) {
	path := filepath.Join("examples", "kaifuku.conf")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, path, string(data))
	want := Defaults()
	want.Files = []string{path}
	want.Lua.ScriptsDir = resolve("examples", "scripts")
	want.Policy.File = resolve("examples", "policy.yaml")
	if d := cmp.Diff(want, c); d != "" {
		t.Errorf("the sample as shipped is not the defaults:\n%s", d)
	}

	var lines []string
	documented := map[string]bool{}
	section := ""
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "[") {
			section = strings.Trim(l, "[]")
		}
		if k, _, ok := strings.Cut(strings.TrimPrefix(l, "#"), " ="); ok && strings.HasPrefix(l, "#") && !strings.Contains(k, " ") && k != "" {
			if section == FlowSection && strings.HasPrefix(l, "#host_rh") && strings.HasSuffix(l, ",") {
				lines = append(lines, l) // the multi-line example stays a comment
				continue
			}
			documented[section+"."+k] = true
			l = l[1:]
		}
		lines = append(lines, l)
	}
	c = mustParse(t, path, strings.Join(lines, "\n"))
	for _, k := range FlowKinds {
		if d := cmp.Diff(names(want.Flows[k]), names(c.Flows[k])); d != "" {
			t.Errorf("%s: %s", k, d)
		}
	}
	c.Flows = want.Flows
	if d := cmp.Diff(want, c); d != "" {
		t.Errorf("the documented defaults are not the defaults (-want +got):\n%s", d)
	}
	for _, def := range sectionDefs {
		for _, o := range def.opts {
			if !documented[def.name+"."+o.name] {
				t.Errorf("[%s] %s is not in %s", def.name, o.name, path)
			}
		}
	}
	for _, o := range flowOptions() {
		if !documented[FlowSection+"."+o] {
			t.Errorf("[%s] %s is not in %s", FlowSection, o, path)
		}
	}
}

// kaifuku reads a deployment's masakari.conf as it is, with a small file of
// its own after it for what Masakari cannot share (its MySQL database).
func TestRealMasakariConf(t *testing.T) {
	masakari := filepath.Join("testdata", "masakari.conf")
	_, err := Load(masakari)
	if err == nil || strings.Count(err.Error(), "\n") != 0 || !strings.Contains(err.Error(), "masakari.conf:33: [database] connection: unsupported database") || strings.Contains(err.Error(), "MASAKARI_DBPASS") {
		t.Fatalf("alone, only the database is refused; got %v", err)
	}
	dir := t.TempDir()
	own := writeFile(t, dir, "kaifuku.conf", "[database]\nconnection = sqlite:///kaifuku.db\n")
	c, err := Load(masakari, own)
	if err != nil {
		t.Fatal(err)
	}
	if c.Engine.HostFailureRecoveryThreads != 4 || c.Engine.WaitPeriodAfterServiceUpdate != time.Minute {
		t.Errorf("engine: %+v", c.Engine)
	}
	want := Nova{AuthURL: "http://controller:5000/v3", Username: "nova", Password: "NOVA_PASS", ProjectName: "service",
		UserDomainName: "Default", ProjectDomainName: "Default", RegionName: "RegionOne", Interface: "public", Timeout: time.Minute}
	if d := cmp.Diff(want, c.Nova); d != "" {
		t.Errorf("nova (-want +got):\n%s", d)
	}
	if c.API.Listen != "0.0.0.0:15868" || c.API.AuthStrategy != "keystone" {
		t.Errorf("api: %+v", c.API)
	}
	wantKS := Keystone{WWWAuthenticateURI: "http://controller:5000", AuthURL: "http://controller:5000", AuthType: "password",
		Username: "masakari", Password: "MASAKARI_PASS", ProjectName: "service", UserDomainName: "Default", ProjectDomainName: "Default",
		TokenCacheTime: 5 * time.Minute, HTTPConnectTimeout: 10 * time.Second, Unused: []string{"memcached_servers"}}
	if d := cmp.Diff(wantKS, c.Keystone); d != "" {
		t.Errorf("keystone (-want +got):\n%s", d)
	}
	for _, k := range FlowKinds {
		if d := cmp.Diff(names(DefaultFlows()[k]), names(c.Flows[k])); d != "" {
			t.Errorf("%s: %s", k, d)
		}
	}
	got := c.Unclaimed([]string{"no_op"})
	if d := cmp.Diff([]string{"coordination", "oslo_messaging_notifications", "oslo_middleware", "taskflow", "wsgi"}, got); d != "" {
		t.Errorf("unclaimed: %s", d)
	}
}

// Which authentication a set of files gets.
func TestAuthStrategy(t *testing.T) {
	ks := "[keystone_authtoken]\nauth_url = http://ks:5000/v3\n"
	tests := []struct{ text, want string }{
		{"", "token"}, // kaifuku serve with no configuration
		{"[DEFAULT]\nstate_dir = /tmp/x\n", "token"}, // a kaifuku.conf without Keystone
		{ks, "keystone"}, // a masakari.conf relying on Masakari's default
		{"[DEFAULT]\nauth_strategy = keystone\n" + ks, "keystone"},
		{"[DEFAULT]\nauth_strategy = token\n" + ks, "token"},
		{"[DEFAULT]\nauth_strategy = noauth2\n" + ks, "noauth"},
		{"[api]\nauth_strategy = token\n" + ks, "token"},
		{"[DEFAULT]\nauth_strategy = keystone\n[api]\nauth_strategy = noauth\n", "noauth"},
	}
	for _, tc := range tests {
		c := mustParse(t, "m.conf", tc.text)
		if c.API.AuthStrategy != tc.want {
			t.Errorf("%q: auth_strategy %s, want %s", tc.text, c.API.AuthStrategy, tc.want)
		}
	}
	errs := []struct{ text, want string }{
		{"[DEFAULT]\nauth_strategy = keystone\n", "m.conf:2: [keystone_authtoken] auth_url: required: [DEFAULT] auth_strategy is keystone"},
		{"[keystone_authtoken]\nusername = kaifuku\n", "[keystone_authtoken] auth_url: required: the files configure [keystone_authtoken] and set no auth_strategy"},
		{"[DEFAULT]\nauth_strategy = noauth\n", `m.conf:2: [DEFAULT] auth_strategy: invalid value "noauth" (one of: keystone, noauth2, token)`},
		{"[keystone_authtoken]\nauth_url = http://ks/v3\nauth_type = v3token\n", `m.conf:3: [keystone_authtoken] auth_type: invalid value "v3token" (one of: password, v3password)`},
		{"[keystone_authtoken]\nauth_url = http://ks/v3\ntoken_cache_time = -2\n", "token_cache_time: must be at least -1"},
		{"[keystone_authtoken]\nauth_url = http://ks/v3\nusernme = x\n", `[keystone_authtoken] usernme: unknown option; did you mean "username"?`},
	}
	for _, tc := range errs {
		_, err := Parse("m.conf", []byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.text, err, tc.want)
		}
	}
}

// Every duration option has an upper bound, and a value too large for the
// arithmetic says so instead of wrapping round.
func TestDurationBounds(t *testing.T) {
	got := parseErr(t, "kaifuku.conf", "[lua]\ntask_timeout = 9223372036854775807\n"+
		"[api]\ngrace_period = 99999h\n"+
		"[smtp]\ntimeout = 100000000000000000000\n"+
		"[nova]\ntimeout = 31536001\n"+
		"[DEFAULT]\nverify_interval = 9223372036854775807\nnotifications_expired_interval = 31536001\n"+
		"wait_period_after_power_on = 99999999999999999999\n"+
		"[database]\nlease_seconds = -9223372036854775809\n")
	golden(t, "opt-duration-bounds", got)
	for _, bad := range []string{"overflow", "-1s", "invalid"} {
		if strings.Contains(got, bad) {
			t.Errorf("the messages say %q:\n%s", bad, got)
		}
	}
	c := mustParse(t, "kaifuku.conf", "[lua]\ntask_timeout = 31536000\n[api]\ngrace_period = 8760h\n[DEFAULT]\nnotifications_expired_interval = 31536000\n")
	if c.Lua.TaskTimeout != 365*24*time.Hour || c.API.GracePeriod != 365*24*time.Hour || c.Engine.NotificationsExpiredInterval != 365*24*time.Hour {
		t.Errorf("the bound itself is refused: %v %v %v", c.Lua.TaskTimeout, c.API.GracePeriod, c.Engine.NotificationsExpiredInterval)
	}
}

// A configuration with errors still comes back: the options that parsed
// hold their values, the ones that did not keep their defaults, and the
// flows are the files' where they parse.
func TestLoadReturnsPartialConfig(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "masakari.conf", `[DEFAULT]
verify_interval = 9o
wait_period_after_evacuation = 7
masakari_api_listen_port = 99999
host_failure_recovery_threads = 0

[taskflow_driver_recovery_flows]
instance_failure_recovery_tasks = pre:['stop_instance_task'],main:['start_instance_task'],post:[]
process_failure_recovery_tasks = pre:[

[smtp]
port = none
host = mail.example.com

[api]
workerz = 2
`)
	c, err := Load(f)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"masakari.conf:2: [DEFAULT] verify_interval:", "masakari.conf:4: [DEFAULT] masakari_api_listen_port:",
		"masakari.conf:5: [DEFAULT] host_failure_recovery_threads:", "masakari.conf:9", "masakari.conf:12: [smtp] port:", "masakari.conf:16: [api] workerz:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if c == nil {
		t.Fatal("no partial configuration")
	}
	d := Defaults()
	if c.Engine.WaitPeriodAfterEvacuation != 7*time.Second || c.SMTP.Host != "mail.example.com" {
		t.Errorf("good options lost: %v %q", c.Engine.WaitPeriodAfterEvacuation, c.SMTP.Host)
	}
	if c.Engine.VerifyInterval != d.Engine.VerifyInterval || c.Engine.HostFailureRecoveryThreads != d.Engine.HostFailureRecoveryThreads ||
		c.SMTP.Port != d.SMTP.Port || c.API.Listen != d.API.Listen {
		t.Errorf("bad options not at their defaults: %v %d %d %s", c.Engine.VerifyInterval, c.Engine.HostFailureRecoveryThreads, c.SMTP.Port, c.API.Listen)
	}
	if got := names(c.Flows[FlowInstance]); !cmp.Equal(got, [3][]string{{"stop_instance_task"}, {"start_instance_task"}, {}}) {
		t.Errorf("instance flow = %v", got)
	}
	if !cmp.Equal(c.Flows[FlowProcess], d.Flows[FlowProcess]) {
		t.Errorf("process flow is not the default: %+v", c.Flows[FlowProcess])
	}
	if !reflectFiles(c.Files, f) {
		t.Errorf("Files = %v", c.Files)
	}
}
