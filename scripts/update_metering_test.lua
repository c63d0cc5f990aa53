-- Tests of update_metering.lua, and of the example configuration's host
-- failure flow end to end: alert first, then evacuate, then metering.
-- Run them with `kaifuku test scripts/`.

local METERING = "https://metering.example.com:8443/v1/recoveries"
local HOOK = "https://hooks.example.com/services/kaifuku"
local EXAMPLE = "../conf/examples/masakari-custom-recovery-methods.conf"
local WEB = "3f0e8a52-5c1d-4b7e-9f7a-2d6c1e0b9a01"
local DB = "3f0e8a52-5c1d-4b7e-9f7a-2d6c1e0b9a02"

-- compute1 has failed; compute2 is up; compute3 is the segment's reserved
-- host.
local function cloud(web_host, db_host)
  return {
    hosts = {
      {name = "compute1", state = "down"},
      {name = "compute2"},
      {name = "compute3", status = "disabled", reserved = true},
    },
    servers = {
      {id = WEB, name = "web-1", host = web_host, tenant_id = "shop", user_id = "alice",
       metadata = {HA_Enabled = "True", owner_email = "alice@example.com"}},
      {id = DB, name = "db-1", host = db_host, tenant_id = "shop", user_id = "bob",
       metadata = {HA_Enabled = "True"}},
    },
  }
end

describe("update_metering", function()
  local opts

  before_each(function()
    opts = {
      -- After evacuate_instances_task: the servers run on compute2 now.
      store = {host_name = "compute1", instance_list = {WEB, DB}},
      cloud = cloud("compute2", "compute2"),
      config = {url = METERING, token = "m-token"},
      http = {{method = "POST", url = METERING, status = 201, body = "{}"}},
      time = "2026-11-25T10:04:12Z",
      phase = "post",
    }
  end)

  it("posts the recovered instances where they run now", function()
    local r = harness.run_task("update_metering", opts)
    assert.truthy(r.ok)
    assert.same({metering_records = 2}, r.provides)
    assert.equals(1, #r.http_requests)
    local req = r.http_requests[1]
    assert.equals("m-token", req.headers["X-Auth-Token"])
    assert.same({
      source = "kaifuku",
      notification_uuid = r.store.notification_uuid,
      kind = "host",
      failed_host = "compute1",
      recovered_at = "2026-11-25T10:04:12Z",
      instances = {
        {id = WEB, name = "web-1", tenant_id = "shop", user_id = "alice", host = "compute2",
         vm_state = "active", recovered_at = "2026-11-25T10:04:12Z"},
        {id = DB, name = "db-1", tenant_id = "shop", user_id = "bob", host = "compute2",
         vm_state = "active", recovered_at = "2026-11-25T10:04:12Z"},
      },
    }, req.body)
    assert.equals("metering updated for 2 instance(s)", r.progress[1].message)
  end)

  it("meters the instance of an instance failure", function()
    opts.store = {instance_uuid = WEB}
    local r = harness.run_task("update_metering", opts)
    assert.truthy(r.ok)
    assert.equals(1, r.provides.metering_records)
    assert.equals("instance", r.http_requests[1].body.kind)
  end)

  it("posts nothing when no instance was recovered", function()
    opts.store = {host_name = "compute1", instance_list = {}}
    opts.http = {}
    local r = harness.run_task("update_metering", opts)
    assert.truthy(r.ok)
    assert.same({metering_records = 0}, r.provides)
    assert.equals(0, #r.http_requests)
  end)

  describe("misconfiguration", function()
    it("needs the url", function()
      opts.config = {}
      local r = harness.run_task("update_metering", opts)
      assert.falsy(r.ok)
      assert.matches("[update_metering] url is required: the metering API endpoint", r.error)
      assert.equals(0, #r.http_requests)
    end)

    it("refuses a timeout that is not a number", function()
      opts.config.timeout = "10s"
      local r = harness.run_task("update_metering", opts)
      assert.falsy(r.ok)
      assert.matches('timeout = "10s" is not a number', r.error)
    end)
  end)

  describe("when the metering API fails", function()
    it("retries, then fails the task: metering is billing", function()
      opts.http = {{method = "POST", url = METERING, status = 500, body = "db down"}}
      local r = harness.run_task("update_metering", opts)
      assert.falsy(r.ok)
      assert.equals("error", r.status)
      assert.equals("scripts/update_metering.lua: metering API not updated: HTTP 500 from " .. METERING .. ": db down", r.error)
      assert.equals(4, #r.http_requests) -- one try and three retries
      assert.equals(35, r.duration)      -- 5 + 10 + 20 s of fake time
    end)

    it("logs and goes on when fail_on_error is false", function()
      opts.http = {{method = "POST", url = METERING, error = "connection refused"}}
      opts.config.fail_on_error = false
      opts.config.retries = 1
      local r = harness.run_task("update_metering", opts)
      assert.truthy(r.ok)
      assert.same({metering_records = 0}, r.provides)
      assert.equals(2, #r.http_requests)
      local e = harness.find_log(r, "error", "metering API not updated")
      assert.truthy(e)
      assert.matches("connection refused", e.fields.error)
      -- and the operator sees it in the notification's details
      assert.equals(1, #r.progress)
      assert.matches("^metering API not updated: .*connection refused", r.progress[1].message)
    end)

    it("gives up within its timeout when the retries would take longer", function()
      opts.http = {{method = "POST", url = METERING, status = 503}}
      opts.config.retries = 10
      opts.config.retry_delay = 30
      local r = harness.run_task("update_metering", opts)
      assert.falsy(r.ok)
      assert.equals(120, r.duration) -- the script's timeout, on the fake clock
      assert.matches("timed out", r.error)
    end)
  end)
end)

describe("the example configuration's host failure flow", function()
  local opts

  before_each(function()
    opts = {
      config_file = EXAMPLE,
      cloud = cloud("compute1", "compute1"),
      http = {
        {method = "POST", url = HOOK, status = 200, body = "ok"},
        {method = "POST", url = METERING, status = 201, body = "{}"},
      },
    }
  end)

  it("alerts first, then evacuates, then meters", function()
    local r = harness.run_flow("host_auto", opts)
    assert.equals("finished", r.status)
    assert.same({
      "send_alert_mail", "disable_compute_service_task",
      "prepare_HA_enabled_instances_task", "notify_webhook",
      "evacuate_instances_task", "update_metering",
    }, r.task_order)
    for _, t in ipairs(r.tasks) do
      assert.equals("SUCCESS", t.state, t.name)
    end

    -- The alert went out before anything was evacuated: it announces the
    -- evacuation and lists no instance yet.
    assert.equals(1, #r.mails)
    assert.same({"ops@example.com", "oncall@example.com"}, r.mails[1].to)
    assert.matches("What is being done: disabling the failed host's compute service, then evacuating", r.mails[1].body)
    assert.falsy(r.mails[1].body:find("Instances:", 1, true))

    -- The webhook heard which instances would be evacuated.
    assert.equals(HOOK, r.http_requests[1].url)
    assert.same({WEB, DB}, r.http_requests[1].body.event.instances)

    -- Metering came last and saw the instances on their new host.
    assert.equals(METERING, r.http_requests[2].url)
    local metered = r.http_requests[2].body.instances
    assert.equals(2, #metered)
    assert.equals("compute2", metered[1].host)
    assert.equals("compute2", metered[2].host)
    assert.equals(2, r.store.metering_records)

    -- And the cloud agrees.
    for _, s in ipairs(r.cloud.servers) do
      assert.equals("compute2", s.host, s.name)
      assert.equals("active", s.vm_state, s.name)
    end
  end)

  it("evacuates to the reserved host and tells the webhook", function()
    local r = harness.run_flow("host_rh", opts)
    assert.equals("finished", r.status)
    assert.same({"host_rh"}, r.flows)
    assert.equals("compute3", r.http_requests[1].body.event.reserved_host)
    for _, s in ipairs(r.cloud.servers) do
      assert.equals("compute3", s.host, s.name)
    end
    assert.equals("compute3", r.http_requests[2].body.instances[1].host)
    assert.same({name = "compute3", reserved = false, on_maintenance = false}, r.segment[3])
  end)

  it("still recovers when the mail server and the webhook are down", function()
    opts.smtp = {error = "421 4.3.2 service not available"}
    opts.http[1] = {method = "POST", url = HOOK, error = "connection refused"}
    local r = harness.run_flow("host_auto", opts)
    assert.equals("finished", r.status)
    assert.equals(0, #r.mails)
    assert.equals("compute2", r.cloud.servers[1].host)
  end)

  it("ends in error when metering fails and fail_on_error is kept", function()
    opts.http[2] = {method = "POST", url = METERING, status = 500}
    opts.config = {update_metering = {url = METERING, retries = 0}}
    local r = harness.run_flow("host_auto", opts)
    assert.equals("error", r.status)
    assert.matches("metering API not updated: HTTP 500", r.message)
    -- The evacuation itself happened; the error makes an operator look.
    assert.equals("compute2", r.cloud.servers[1].host)
  end)
end)
