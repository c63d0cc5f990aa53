package conf

import (
	"errors"
	"path/filepath"
	"strings"
	"time"
)

// setting is one effective value of an option: the last file that set it
// wins.
type setting struct {
	entry
	dir string // directory of the file that set it
}

func (s setting) s() string { return strings.TrimSpace(s.val.s) }

// option is one option kaifuku reads.
type option struct {
	name string
	set  func(c *Config, v setting) error
}

// sectionDef is a section kaifuku owns.
type sectionDef struct {
	name string
	opts []option
	// lenient sections are shared with oslo libraries in a real
	// masakari.conf: an unknown key is ignored unless it is a likely typo of
	// one of ours.
	lenient bool
	// foreign lists options of Masakari and its libraries that a lenient
	// section may hold; they are never taken for typos.
	foreign []string
}

func (d sectionDef) names() []string {
	n := make([]string, len(d.opts))
	for i, o := range d.opts {
		n[i] = o.name
	}
	return n
}

func (d sectionDef) option(key string) (option, bool) {
	for _, o := range d.opts {
		if o.name == key {
			return o, true
		}
	}
	return option{}, false
}

// Helpers building option setters.

func secondsOpt(name string, minimum int, dst func(*Config) *time.Duration) option {
	return option{name, func(c *Config, v setting) error {
		d, err := parseSeconds(v.s(), minimum)
		*dst(c) = d
		return err
	}}
}

func durationOpt(name string, minimum time.Duration, dst func(*Config) *time.Duration) option {
	return option{name, func(c *Config, v setting) error {
		d, err := parseDuration(v.s(), minimum)
		*dst(c) = d
		return err
	}}
}

func intOpt(name string, minimum int, dst func(*Config) *int) option {
	return option{name, func(c *Config, v setting) error {
		n, err := parseInt(v.s(), minimum)
		*dst(c) = n
		return err
	}}
}

func boolOpt(name string, dst func(*Config) *bool) option {
	return option{name, func(c *Config, v setting) error {
		b, err := parseBool(v.s())
		*dst(c) = b
		return err
	}}
}

// stringOpt keeps the value as written (after oslo's quote removal).
func stringOpt(name string, dst func(*Config) *string) option {
	return option{name, func(c *Config, v setting) error {
		*dst(c) = v.s()
		return nil
	}}
}

func nonEmptyOpt(name string, dst func(*Config) *string) option {
	return option{name, func(c *Config, v setting) error {
		if v.s() == "" {
			return errors.New("must not be empty")
		}
		*dst(c) = v.s()
		return nil
	}}
}

func choiceOpt(name string, dst func(*Config) *string, choices ...string) option {
	return option{name, func(c *Config, v setting) error {
		s, err := parseChoice(v.s(), choices...)
		if err == nil {
			*dst(c) = s
		}
		return err
	}}
}

func pathOpt(name string, dst func(*Config) *string) option {
	return option{name, func(c *Config, v setting) error {
		*dst(c) = resolve(v.dir, v.s())
		return nil
	}}
}

func urlOpt(name string, dst func(*Config) *string) option {
	return option{name, func(c *Config, v setting) error {
		if v.s() == "" {
			*dst(c) = ""
			return nil
		}
		u, err := parseURL(v.s())
		*dst(c) = u
		return err
	}}
}

// The [DEFAULT] options of Masakari that fill [nova] and [api] when those
// sections do not set them: alias -> section.key.
var aliases = map[string][2]string{
	"os_privileged_user_name":     {"nova", "username"},
	"os_privileged_user_password": {"nova", "password"},
	"os_privileged_user_tenant":   {"nova", "project_name"},
	"os_privileged_user_auth_url": {"nova", "auth_url"},
	"os_user_domain_name":         {"nova", "user_domain_name"},
	"os_project_domain_name":      {"nova", "project_domain_name"},
	"os_region_name":              {"nova", "region_name"},
	"nova_api_insecure":           {"nova", "insecure"},
	"nova_ca_certificates_file":   {"nova", "cafile"},
}

// The [DEFAULT] options handled after the others (they depend on what the
// sections set); their values are only checked when read.
var (
	aliasListen     = "masakari_api_listen"
	aliasListenPort = "masakari_api_listen_port"
	aliasAuth       = "auth_strategy"
)

func aliasOpt(name string) option {
	return option{name, func(*Config, setting) error { return nil }}
}

// sectionDefs lists every section kaifuku owns, in the order they are read.
var sectionDefs = []sectionDef{
	{name: "DEFAULT", lenient: true, foreign: defaultForeign, opts: []option{
		pathOpt("state_dir", func(c *Config) *string { return &c.StateDir }),
		pathOpt("scripts_dir", func(c *Config) *string { return &c.Lua.ScriptsDir }),
		secondsOpt("duplicate_notification_detection_interval", 0, func(c *Config) *time.Duration { return &c.Engine.DuplicateNotificationDetectionInterval }),
		secondsOpt("wait_period_after_service_update", 0, func(c *Config) *time.Duration { return &c.Engine.WaitPeriodAfterServiceUpdate }),
		secondsOpt("wait_period_after_evacuation", 0, func(c *Config) *time.Duration { return &c.Engine.WaitPeriodAfterEvacuation }),
		secondsOpt("verify_interval", 0, func(c *Config) *time.Duration { return &c.Engine.VerifyInterval }),
		secondsOpt("wait_period_after_power_off", 0, func(c *Config) *time.Duration { return &c.Engine.WaitPeriodAfterPowerOff }),
		secondsOpt("wait_period_after_power_on", 0, func(c *Config) *time.Duration { return &c.Engine.WaitPeriodAfterPowerOn }),
		secondsOpt("process_unfinished_notifications_interval", 0, func(c *Config) *time.Duration { return &c.Engine.ProcessUnfinishedNotificationsInterval }),
		secondsOpt("retry_notification_new_status_interval", 0, func(c *Config) *time.Duration { return &c.Engine.RetryNotificationNewStatusInterval }),
		secondsOpt("check_expired_notifications_interval", 0, func(c *Config) *time.Duration { return &c.Engine.CheckExpiredNotificationsInterval }),
		secondsOpt("notifications_expired_interval", 0, func(c *Config) *time.Duration { return &c.Engine.NotificationsExpiredInterval }),
		intOpt("host_failure_recovery_threads", 1, func(c *Config) *int { return &c.Engine.HostFailureRecoveryThreads }),
		boolOpt("use_ssl", func(c *Config) *bool { return &c.SSL.UseSSL }),
		boolOpt("debug", func(c *Config) *bool { return &c.Log.Debug }),
		stringOpt("log_file", func(c *Config) *string { return &c.Log.File }),
		pathOpt("log_dir", func(c *Config) *string { return &c.Log.Dir }),
		boolOpt("use_json", func(c *Config) *bool { return &c.Log.JSON }),
		boolOpt("use_syslog", func(c *Config) *bool { return &c.Log.Syslog }),
		boolOpt("use_journal", func(c *Config) *bool { return &c.Log.Journal }),
		aliasOpt("os_privileged_user_name"),
		aliasOpt("os_privileged_user_password"),
		aliasOpt("os_privileged_user_tenant"),
		aliasOpt("os_privileged_user_auth_url"),
		aliasOpt("os_user_domain_name"),
		aliasOpt("os_project_domain_name"),
		aliasOpt("os_region_name"),
		aliasOpt("nova_api_insecure"),
		aliasOpt("nova_ca_certificates_file"),
		aliasOpt(aliasListen),
		aliasOpt(aliasListenPort),
		aliasOpt(aliasAuth),
	}},
	{name: FlowSection}, // read by parseFlowValue; its options are the four FlowKind.Option()
	{name: "host_failure", opts: []option{
		boolOpt("evacuate_all_instances", func(c *Config) *bool { return &c.HostFailure.EvacuateAllInstances }),
		nonEmptyOpt("ha_enabled_instance_metadata_key", func(c *Config) *string { return &c.HostFailure.HAEnabledInstanceMetadataKey }),
		boolOpt("ignore_instances_in_error_state", func(c *Config) *bool { return &c.HostFailure.IgnoreInstancesInErrorState }),
		boolOpt("add_reserved_host_to_aggregate", func(c *Config) *bool { return &c.HostFailure.AddReservedHostToAggregate }),
		stringOpt("service_disable_reason", func(c *Config) *string { return &c.HostFailure.ServiceDisableReason }),
		boolOpt("force_down_service", func(c *Config) *bool { return &c.HostFailure.ForceDownService }),
		intOpt("max_failed_hosts_percent", 0, func(c *Config) *int { return &c.StormGuard.MaxFailedHostsPercent }),
		secondsOpt("failed_hosts_window", 1, func(c *Config) *time.Duration { return &c.StormGuard.Window }),
	}},
	{name: "instance_failure", opts: []option{
		boolOpt("process_all_instances", func(c *Config) *bool { return &c.InstanceFailure.ProcessAllInstances }),
		nonEmptyOpt("ha_enabled_instance_metadata_key", func(c *Config) *string { return &c.InstanceFailure.HAEnabledInstanceMetadataKey }),
	}},
	{name: "process_failure", opts: []option{
		stringOpt("service_disable_reason", func(c *Config) *string { return &c.ProcessFailure.ServiceDisableReason }),
	}},
	{name: "lua", opts: []option{
		durationOpt("task_timeout", time.Millisecond, func(c *Config) *time.Duration { return &c.Lua.TaskTimeout }),
		{"http_allowed_hosts", func(c *Config, v setting) error {
			h, err := parseHosts(v.s())
			c.Lua.HTTPAllowedHosts = h
			return err
		}},
		intOpt("memory_limit_mib", 1, func(c *Config) *int { return &c.Lua.MemoryLimitMiB }),
	}},
	{name: "smtp", opts: []option{
		nonEmptyOpt("host", func(c *Config) *string { return &c.SMTP.Host }),
		{"port", func(c *Config, v setting) error {
			n, err := parsePort(v.s())
			c.SMTP.Port = n
			return err
		}},
		nonEmptyOpt("from", func(c *Config) *string { return &c.SMTP.From }),
		boolOpt("starttls", func(c *Config) *bool { return &c.SMTP.StartTLS }),
		stringOpt("username", func(c *Config) *string { return &c.SMTP.Username }),
		stringOpt("password", func(c *Config) *string { return &c.SMTP.Password }),
		durationOpt("timeout", time.Millisecond, func(c *Config) *time.Duration { return &c.SMTP.Timeout }),
	}},
	{name: "api", opts: []option{
		{"listen", func(c *Config, v setting) error {
			a, err := parseHostPort(v.s())
			c.API.Listen = a
			return err
		}},
		choiceOpt("auth_strategy", func(c *Config) *string { return &c.API.AuthStrategy }, "token", "noauth"),
		pathOpt("token_file", func(c *Config) *string { return &c.API.TokenFile }),
		boolOpt("accept_token_file", func(c *Config) *bool { return &c.API.AcceptTokenFile }),
		{"max_body_bytes", func(c *Config, v setting) error {
			n, err := parseInt(v.s(), 1)
			c.API.MaxBodyBytes = int64(n)
			return err
		}},
		intOpt("workers", 1, func(c *Config) *int { return &c.API.WorkerCount }),
		durationOpt("grace_period", 0, func(c *Config) *time.Duration { return &c.API.GracePeriod }),
		durationOpt("client_timeout", time.Second, func(c *Config) *time.Duration { return &c.API.ClientTimeout }),
		pathOpt("cert_file", func(c *Config) *string { return &c.API.CertFile }),
		pathOpt("key_file", func(c *Config) *string { return &c.API.KeyFile }),
	}},
	{name: "ssl", lenient: true, foreign: sslForeign, opts: []option{
		pathOpt("cert_file", func(c *Config) *string { return &c.SSL.CertFile }),
		pathOpt("key_file", func(c *Config) *string { return &c.SSL.KeyFile }),
	}},
	{name: "compute", opts: []option{
		choiceOpt("driver", func(c *Config) *string { return &c.Compute.Driver }, "simulated", "nova"),
		pathOpt("fixture", func(c *Config) *string { return &c.Compute.Fixture }),
		intOpt("max_concurrent_evacuations", 0, func(c *Config) *int { return &c.Compute.MaxConcurrentEvacuations }),
		intOpt("max_requests_per_second", 0, func(c *Config) *int { return &c.Compute.MaxRequestsPerSecond }),
	}},
	{name: "nova", opts: []option{
		urlOpt("auth_url", func(c *Config) *string { return &c.Nova.AuthURL }),
		stringOpt("username", func(c *Config) *string { return &c.Nova.Username }),
		stringOpt("password", func(c *Config) *string { return &c.Nova.Password }),
		stringOpt("project_name", func(c *Config) *string { return &c.Nova.ProjectName }),
		nonEmptyOpt("user_domain_name", func(c *Config) *string { return &c.Nova.UserDomainName }),
		nonEmptyOpt("project_domain_name", func(c *Config) *string { return &c.Nova.ProjectDomainName }),
		stringOpt("region_name", func(c *Config) *string { return &c.Nova.RegionName }),
		choiceOpt("interface", func(c *Config) *string { return &c.Nova.Interface }, "public", "internal", "admin"),
		pathOpt("cafile", func(c *Config) *string { return &c.Nova.CAFile }),
		boolOpt("insecure", func(c *Config) *bool { return &c.Nova.Insecure }),
		durationOpt("timeout", time.Millisecond, func(c *Config) *time.Duration { return &c.Nova.Timeout }),
		stringOpt("token", func(c *Config) *string { return &c.Nova.Token }),
		urlOpt("endpoint", func(c *Config) *string { return &c.Nova.Endpoint }),
	}},
	{name: "fencing", opts: []option{
		boolOpt("required", func(c *Config) *bool { return &c.Fencing.Required }),
		durationOpt("timeout", time.Second, func(c *Config) *time.Duration { return &c.Fencing.Timeout }),
		pathOpt("agent_dir", func(c *Config) *string { return &c.Fencing.AgentDir }),
	}},
	{name: KeystoneSection, lenient: true, foreign: keystoneForeign, opts: []option{
		urlOpt("www_authenticate_uri", func(c *Config) *string { return &c.Keystone.WWWAuthenticateURI }),
		// auth_uri is the deprecated name of www_authenticate_uri, which wins
		// (it is read first).
		{"auth_uri", func(c *Config, v setting) error {
			if v.s() == "" {
				return nil
			}
			u, err := parseURL(v.s())
			if err == nil && c.Keystone.WWWAuthenticateURI == "" {
				c.Keystone.WWWAuthenticateURI = u
			}
			return err
		}},
		urlOpt("auth_url", func(c *Config) *string { return &c.Keystone.AuthURL }),
		choiceOpt("auth_type", func(c *Config) *string { return &c.Keystone.AuthType }, "password", "v3password"),
		stringOpt("username", func(c *Config) *string { return &c.Keystone.Username }),
		stringOpt("password", func(c *Config) *string { return &c.Keystone.Password }),
		stringOpt("project_name", func(c *Config) *string { return &c.Keystone.ProjectName }),
		stringOpt("user_domain_name", func(c *Config) *string { return &c.Keystone.UserDomainName }),
		stringOpt("user_domain_id", func(c *Config) *string { return &c.Keystone.UserDomainID }),
		stringOpt("project_domain_name", func(c *Config) *string { return &c.Keystone.ProjectDomainName }),
		stringOpt("project_domain_id", func(c *Config) *string { return &c.Keystone.ProjectDomainID }),
		stringOpt("region_name", func(c *Config) *string { return &c.Keystone.RegionName }),
		pathOpt("cafile", func(c *Config) *string { return &c.Keystone.CAFile }),
		boolOpt("insecure", func(c *Config) *bool { return &c.Keystone.Insecure }),
		{"token_cache_time", func(c *Config, v setting) error {
			n, err := parseInt(v.s(), -1)
			c.Keystone.TokenCacheTime = time.Duration(n) * time.Second
			return err
		}},
		secondsOpt("http_connect_timeout", 1, func(c *Config) *time.Duration { return &c.Keystone.HTTPConnectTimeout }),
	}},
	{name: "oslo_policy", lenient: true, foreign: policyForeign, opts: []option{
		{"policy_file", func(c *Config, v setting) error {
			if v.s() == "" {
				return errors.New("must not be empty")
			}
			c.Policy.File = resolve(v.dir, v.s())
			return nil
		}},
	}},
	{name: "database", lenient: true, foreign: databaseForeign, opts: []option{
		{"connection", func(c *Config, v setting) error {
			s, err := parseConnection(v.dir, v.s())
			if err == nil {
				c.Database.Connection = s
			}
			return err
		}},
		secondsOpt("lease_seconds", 1, func(c *Config) *time.Duration { return &c.Database.LeaseSeconds }),
	}},
}

// flowOptions are the keys of [taskflow_driver_recovery_flows].
func flowOptions() []string {
	n := make([]string, len(FlowKinds))
	for i, k := range FlowKinds {
		n[i] = k.Option()
	}
	return n
}

// ownedSection returns the definition of a section kaifuku owns. Like
// oslo.config, section names other than DEFAULT are case-insensitive.
func ownedSection(name string) (sectionDef, bool) {
	if name != "DEFAULT" {
		name = strings.ToLower(name)
	}
	for _, d := range sectionDefs {
		if d.name == name {
			if d.name == FlowSection {
				d.opts = nil
				for _, o := range flowOptions() {
					d.opts = append(d.opts, aliasOpt(o))
				}
			}
			return d, true
		}
	}
	return sectionDef{}, false
}

// OwnedSections lists the sections kaifuku reads itself.
func OwnedSections() []string {
	n := make([]string, len(sectionDefs))
	for i, d := range sectionDefs {
		n[i] = d.name
	}
	return n
}

// defaultForeign lists [DEFAULT] options of Masakari, oslo.log,
// oslo.messaging, oslo.service and oslo.policy that a real masakari.conf
// holds; kaifuku ignores them without taking them for typos of its own.
var defaultForeign = []string{
	// Masakari
	"notification_driver", "masakari_topic", "engine_manager", "host", "report_interval",
	"service_down_time", "periodic_enable", "periodic_interval_max", "periodic_fuzzy_delay",
	"nova_catalog_admin_info", "os_system_scope", "fatal_exception_format_errors",
	"osapi_max_limit", "osapi_masakari_link_prefix", "use_forwarded_for", "masakari_api_workers",
	"notification_delay_max", "state_path", "pybasedir", "bindir", "tempdir",
	"my_ip", "api_paste_config", "sqlite_db", "sqlite_synchronous",
	// oslo.log
	"verbose", "log_config_append", "log_date_format",
	"watch_log_file", "syslog_log_facility",
	"use_stderr", "use_eventlog", "log_color", "log_rotate_interval", "log_rotate_interval_type",
	"max_logfile_count", "max_logfile_size_mb", "log_rotation_type",
	"logging_context_format_string", "logging_default_format_string",
	"logging_debug_format_suffix", "logging_exception_prefix", "logging_user_identity_format",
	"default_log_levels", "publish_errors", "instance_format", "instance_uuid_format",
	"rate_limit_interval", "rate_limit_burst", "rate_limit_except_level", "fatal_deprecations",
	// oslo.messaging
	"transport_url", "control_exchange", "rpc_response_timeout", "rpc_conn_pool_size",
	"conn_pool_min_size", "conn_pool_ttl", "executor_thread_pool_size", "rpc_ping_enabled",
	// oslo.service
	"backdoor_port", "backdoor_socket", "log_options", "graceful_shutdown_timeout",
	"run_external_periodic_tasks", "config_file", "config_dir", "config_source",
	"tcp_keepidle", "wsgi_default_pool_size", "max_header_line", "wsgi_keep_alive",
	"client_socket_timeout", "wsgi_log_format",
}

// KeystoneSection is keystonemiddleware's section.
const KeystoneSection = "keystone_authtoken"

// keystoneForeign lists keystonemiddleware's and keystoneauth's options
// that kaifuku does not use; the daemon names those a file sets at start.
var keystoneForeign = []string{
	"interface", "delay_auth_decision", "http_request_max_retries", "cache", "certfile", "keyfile",
	"signing_dir", "memcached_servers", "memcache_security_strategy", "memcache_secret_key",
	"memcache_pool_dead_retry", "memcache_pool_maxsize", "memcache_pool_socket_timeout",
	"memcache_pool_unused_timeout", "memcache_pool_conn_get_timeout", "memcache_use_advanced_pool",
	"memcache_tls_enabled", "memcache_tls_cafile", "memcache_tls_certfile", "memcache_tls_keyfile",
	"memcache_tls_allowed_ciphers", "include_service_catalog", "enforce_token_bind",
	"service_token_roles", "service_token_roles_required", "service_type", "auth_version",
	"admin_user", "admin_password", "admin_tenant_name", "identity_uri", "auth_section",
	"user_id", "project_id", "tenant_name", "tenant_id", "domain_id", "domain_name",
	"trust_id", "system_scope", "default_domain_id", "default_domain_name", "token",
	"endpoint", "timeout", "collect-timing", "split-loggers", "auth_host", "auth_port",
	"auth_protocol", "auth_admin_prefix", "revocation_cache_time", "hash_algorithms",
}

// sslForeign lists oslo.service's [ssl] options kaifuku does not use.
var sslForeign = []string{"ca_file", "ciphers", "version"}

// policyForeign lists oslo.policy's [oslo_policy] options kaifuku does not use.
var policyForeign = []string{
	"enforce_scope", "enforce_new_defaults", "policy_default_rule", "policy_dirs",
	"remote_content_type", "remote_ssl_verify_server_crt", "remote_ssl_ca_crt_file",
	"remote_ssl_client_crt_file", "remote_ssl_client_key_file", "remote_timeout",
}

// databaseForeign lists oslo.db's [database] options.
var databaseForeign = []string{
	"backend", "slave_connection", "asyncio_connection", "asyncio_slave_connection",
	"mysql_sql_mode", "mysql_wsrep_sync_wait", "mysql_enable_ndb", "connection_recycle_time",
	"idle_timeout", "max_pool_size", "min_pool_size", "max_retries", "retry_interval",
	"max_overflow", "pool_timeout", "connection_debug", "connection_trace",
	"connection_parameters", "sqlite_synchronous", "sqlite_db", "use_db_reconnect",
	"db_retry_interval", "db_inc_retry_interval", "db_max_retry_interval", "db_max_retries",
	"use_tpool", "db_max_retries",
}

// defaultScriptsDir is "scripts" beside the first file, or in the working
// directory.
func defaultScriptsDir(files []string) string {
	if len(files) == 0 {
		return resolve(".", "scripts")
	}
	return resolve(filepath.Dir(files[0]), "scripts")
}
