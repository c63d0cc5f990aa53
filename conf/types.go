package conf

import (
	"fmt"
	"path/filepath"
	"time"
)

// Pos is a place in a configuration file. Col is 0 when unknown.
type Pos struct {
	File string
	Line int
	Col  int
}

// IsZero reports whether p names no place (a default value).
func (p Pos) IsZero() bool { return p.File == "" && p.Line == 0 }

func (p Pos) String() string {
	switch {
	case p.IsZero():
		return "(default)"
	case p.Line == 0:
		return p.File
	case p.Col > 0:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	default:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
}

// Error is one configuration problem: "file:line: [section] key: problem".
type Error struct {
	Pos     Pos
	Section string
	Key     string
	Err     error
}

func (e *Error) Error() string {
	s := ""
	if !e.Pos.IsZero() {
		s = e.Pos.String() + ": "
	}
	if e.Section != "" {
		s += "[" + e.Section + "] "
	}
	if e.Key != "" {
		s += e.Key + ": "
	}
	return s + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// FlowKind names one of the four recovery workflows.
type FlowKind string

// The four workflows, in the order kaifuku lists them.
const (
	FlowHostAuto FlowKind = "host_auto"
	FlowHostRH   FlowKind = "host_rh"
	FlowInstance FlowKind = "instance"
	FlowProcess  FlowKind = "process"
)

// FlowKinds lists every flow kind in display order.
var FlowKinds = []FlowKind{FlowHostAuto, FlowHostRH, FlowInstance, FlowProcess}

// Option returns the [taskflow_driver_recovery_flows] option of the flow.
func (k FlowKind) Option() string { return string(k) + "_failure_recovery_tasks" }

// Phase is pre, main or post.
type Phase int

// The three phases of a flow.
const (
	Pre Phase = iota
	Main
	Post
)

// Phases lists the phases in order.
var Phases = []Phase{Pre, Main, Post}

func (p Phase) String() string { return [...]string{"pre", "main", "post"}[p] }

// TaskRef is one task name in a flow option, with where it was written.
type TaskRef struct {
	Name string
	Pos  Pos
}

// FlowSpec is one parsed [taskflow_driver_recovery_flows] option.
type FlowSpec struct {
	Kind   FlowKind
	Pos    Pos // where the option is set; zero for Masakari's default
	Phases [3][]TaskRef
}

// Section is a section of the files that kaifuku does not own itself: the
// settings of a task (a section named after the task) or an oslo section of a
// real masakari.conf. Values are raw strings after continuation joining.
type Section struct {
	Name   string
	Pos    Pos
	Values map[string]string
	KeyPos map[string]Pos
}

// Get returns a value and whether it is set.
func (s Section) Get(key string) (string, bool) {
	v, ok := s.Values[key]
	return v, ok
}

// HostFailure is [host_failure].
type HostFailure struct {
	EvacuateAllInstances         bool   // evacuate_all_instances, default true
	HAEnabledInstanceMetadataKey string // ha_enabled_instance_metadata_key, default HA_Enabled
	IgnoreInstancesInErrorState  bool   // ignore_instances_in_error_state, default false
	AddReservedHostToAggregate   bool   // add_reserved_host_to_aggregate, default false
	ServiceDisableReason         string // service_disable_reason, default "Masakari detected host failed."
	// ForceDownService (kaifuku) forces the failed host's service down before
	// disabling it instead of waiting until Nova reports it down. Default false.
	ForceDownService bool // force_down_service
}

// StormGuard (kaifuku) holds new host recoveries of a segment in which too
// many hosts failed at once: more likely the monitoring or the network than
// the hosts. Read from [host_failure]; off unless MaxFailedHostsPercent is set.
type StormGuard struct {
	// MaxFailedHostsPercent: when more than this share of a segment's hosts
	// have host-failure notifications within Window, a new one is held.
	// 0 (the default): off.
	MaxFailedHostsPercent int           // max_failed_hosts_percent
	Window                time.Duration // failed_hosts_window, default 600 s
}

// InstanceFailure is [instance_failure].
type InstanceFailure struct {
	ProcessAllInstances          bool   // process_all_instances, default false
	HAEnabledInstanceMetadataKey string // ha_enabled_instance_metadata_key, default HA_Enabled
}

// ProcessFailure is [process_failure].
type ProcessFailure struct {
	ServiceDisableReason string // default "Masakari detected process failed."
}

// Engine holds the [DEFAULT] options of Masakari's engine.
type Engine struct {
	DuplicateNotificationDetectionInterval time.Duration // 180 s
	WaitPeriodAfterServiceUpdate           time.Duration // 180 s
	WaitPeriodAfterEvacuation              time.Duration // 90 s
	VerifyInterval                         time.Duration // 1 s
	WaitPeriodAfterPowerOff                time.Duration // 180 s
	WaitPeriodAfterPowerOn                 time.Duration // 60 s
	ProcessUnfinishedNotificationsInterval time.Duration // 120 s
	RetryNotificationNewStatusInterval     time.Duration // 60 s
	CheckExpiredNotificationsInterval      time.Duration // 600 s
	NotificationsExpiredInterval           time.Duration // 86400 s
	HostFailureRecoveryThreads             int           // 3, min 1
}

// Lua is [lua] (and [DEFAULT] scripts_dir).
type Lua struct {
	ScriptsDir       string        // [DEFAULT] scripts_dir; default "scripts" beside the first config file
	TaskTimeout      time.Duration // task_timeout, default 30 s
	HTTPAllowedHosts []string      // http_allowed_hosts, comma separated host or host:port
	MemoryLimitMiB   int           // memory_limit_mib, default 256: the heap watchdog's budget
}

// SMTP is [smtp] for the Lua smtp module.
type SMTP struct {
	Host     string // default localhost
	Port     int    // default 25
	From     string // default kaifuku@localhost
	StartTLS bool   // starttls, default false
	Username string
	Password string        // secret
	Timeout  time.Duration // default 30 s
}

// API is [api].
type API struct {
	Listen string // default 127.0.0.1:15868
	// AuthStrategy is token, noauth or keystone: [api] auth_strategy
	// (token or noauth) when set, else Masakari's [DEFAULT] auth_strategy,
	// else keystone when [keystone_authtoken] is in the files and token
	// when it is not.
	AuthStrategy string
	TokenFile    string // default <state_dir>/tokens
	// AcceptTokenFile also accepts the tokens of TokenFile with keystone.
	AcceptTokenFile bool
	MaxBodyBytes    int64         // default 1 MiB
	WorkerCount     int           // notification workers, default 4
	GracePeriod     time.Duration // SIGTERM grace, default 30 s
	// ClientTimeout bounds how long a client may take to send one request
	// (headers and body) and how long an idle connection stays open.
	ClientTimeout time.Duration // client_timeout, default 60 s
	// CertFile and KeyFile, both set, make the API serve HTTPS with that
	// certificate (chain) and key, read once at start. Masakari's [ssl]
	// cert_file and key_file, with [DEFAULT] use_ssl = true, fill them when
	// [api] does not set them.
	CertFile string
	KeyFile  string
}

// SSL is Masakari's (oslo.service's) [ssl], used by the API when
// [DEFAULT] use_ssl is true and [api] sets no certificate.
type SSL struct {
	UseSSL   bool // [DEFAULT] use_ssl
	CertFile string
	KeyFile  string
}

// Log is oslo.log's options of [DEFAULT]: where and how kaifuku serve logs.
type Log struct {
	Debug bool   // debug: log at debug level
	File  string // log_file, as written
	Dir   string // log_dir
	JSON  bool   // use_json: one JSON object a line
	// Syslog and Journal send the log to the local syslog socket as well
	// (journald reads that socket too).
	Syslog  bool // use_syslog
	Journal bool // use_journal
}

// Path is the file to log to, as oslo.log decides it: log_file inside
// log_dir when both are set (an absolute log_file wins), kaifuku.log in
// log_dir, log_file alone, or empty for standard error.
func (l Log) Path() string {
	switch {
	case l.File != "" && (filepath.IsAbs(l.File) || l.Dir == ""):
		return l.File
	case l.Dir != "" && l.File != "":
		return filepath.Join(l.Dir, l.File)
	case l.Dir != "":
		return filepath.Join(l.Dir, "kaifuku.log")
	}
	return ""
}

// Compute is [compute].
type Compute struct {
	Driver  string // simulated (default) | nova
	Fixture string // simulated cloud fixture; default conf/examples/demo-cloud.json (embedded)
	// MaxConcurrentEvacuations bounds the evacuations in flight across
	// every host recovery of the engine, shared in turn between the hosts,
	// HA-enabled servers first; 0: no bound beyond
	// host_failure_recovery_threads per host.
	MaxConcurrentEvacuations int
	// MaxRequestsPerSecond is a budget of compute API requests per second
	// for the whole engine; 0: none.
	MaxRequestsPerSecond int
}

// Nova is [nova] (Masakari's [DEFAULT] os_privileged_user_* are aliases).
type Nova struct {
	AuthURL           string
	Username          string
	Password          string // secret
	ProjectName       string
	UserDomainName    string // default "Default"
	ProjectDomainName string // default "Default"
	RegionName        string
	Interface         string // default public
	CAFile            string
	Insecure          bool
	Timeout           time.Duration // per request, default 60 s
	Token             string        // static token instead of a password login (secret)
	Endpoint          string        // compute endpoint override (with Token)
}

// Keystone is [keystone_authtoken], with keystonemiddleware's option names.
type Keystone struct {
	WWWAuthenticateURI string // www_authenticate_uri (or auth_uri); default auth_url
	AuthURL            string // identity v3 endpoint, e.g. http://keystone:5000/v3
	AuthType           string // password (the only one)
	Username           string
	Password           string // secret
	ProjectName        string
	UserDomainName     string // default "Default" unless user_domain_id is set
	UserDomainID       string
	ProjectDomainName  string // default "Default" unless project_domain_id is set
	ProjectDomainID    string
	RegionName         string // only reported: tokens are validated at auth_url
	CAFile             string
	Insecure           bool
	// TokenCacheTime is token_cache_time: how long a valid token is trusted
	// without asking Keystone again (default 300 s); negative disables it.
	TokenCacheTime time.Duration
	// HTTPConnectTimeout bounds one request to Keystone (default 10 s).
	HTTPConnectTimeout time.Duration
	// Unused lists the options of the section that kaifuku does not use
	// (memcached_servers, ...), in file order, for the start-up log.
	Unused []string
}

// Policy is [oslo_policy].
type Policy struct {
	// File is policy_file: Masakari's rules overridden by this file
	// (oslo.policy YAML or JSON) when it exists. Default policy.yaml beside
	// the first configuration file.
	File string
}

// Database is [database].
type Database struct {
	Connection   string        // default sqlite:///<state_dir>/kaifuku.db
	LeaseSeconds time.Duration // lease_seconds, default 60 s
}

// Config is everything kaifuku reads from its files.
type Config struct {
	Files    []string // the files read, in order
	StateDir string   // [DEFAULT] state_dir, default /var/lib/kaifuku

	Flows           map[FlowKind]FlowSpec
	Engine          Engine
	HostFailure     HostFailure
	StormGuard      StormGuard // [host_failure] max_failed_hosts_percent, failed_hosts_window
	InstanceFailure InstanceFailure
	ProcessFailure  ProcessFailure
	Lua             Lua
	SMTP            SMTP
	API             API
	Compute         Compute
	Nova            Nova
	Keystone        Keystone
	Policy          Policy
	Database        Database
	Fencing         Fencing
	SSL             SSL
	Log             Log

	// Sections holds every section kaifuku does not own, by name: task
	// settings and oslo sections. Which are which is decided once the task
	// names are known (see Config.TaskSection and Config.Unclaimed).
	Sections map[string]Section

	// Unused lists the keys of kaifuku's lenient sections ([DEFAULT],
	// [keystone_authtoken], ...) that it does not read, options of Masakari
	// or of an oslo library, in file order, once each: kaifuku check lists
	// them so that none is dropped silently.
	Unused []UnusedOption
}

// UnusedOption is a key of a section kaifuku owns that it does not read.
type UnusedOption struct {
	Pos     Pos
	Section string
	Key     string
}

// TaskSection returns the settings section of a task (empty when absent).
func (c *Config) TaskSection(task string) Section {
	if s, ok := c.Sections[task]; ok {
		return s
	}
	return Section{Name: task, Values: map[string]string{}, KeyPos: map[string]Pos{}}
}
