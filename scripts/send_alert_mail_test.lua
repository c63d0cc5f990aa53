-- Tests of send_alert_mail.lua: run them with `kaifuku test scripts/`.

local WEB = "3f0e8a52-5c1d-4b7e-9f7a-2d6c1e0b9a01"
local DB = "3f0e8a52-5c1d-4b7e-9f7a-2d6c1e0b9a02"

-- compute1 failed; its servers were evacuated to compute2. Each server's
-- owner is in its metadata.
local CLOUD = {
  hosts = {
    {name = "compute1", state = "down"},
    {name = "compute2"},
  },
  servers = {
    {id = WEB, name = "web-1", host = "compute2", tenant_id = "shop", user_id = "alice",
     metadata = {HA_Enabled = "True", owner_email = "alice@example.com"}},
    {id = DB, name = "db-1", host = "compute2", tenant_id = "shop", user_id = "bob",
     metadata = {HA_Enabled = "True", owner_email = "bob@example.com"}},
  },
}

describe("send_alert_mail", function()
  local opts

  before_each(function()
    opts = {
      store = {host_name = "compute1"},
      config = {to = "ops@example.com, oncall@example.com", cc = "lead@example.com"},
    }
  end)

  describe("before the recovery (pre phase)", function()
    it("mails the operators what failed and what is being done", function()
      local r = harness.run_task("send_alert_mail", opts)
      assert.truthy(r.ok)
      assert.equals(1, #r.mails)
      local m = r.mails[1]
      assert.same({"ops@example.com", "oncall@example.com"}, m.to)
      assert.same({"lead@example.com"}, m.cc)
      assert.equals("[kaifuku] compute host compute1 failed: disabling the failed host's compute service, "
        .. "then evacuating its HA-enabled instances", m.subject)
      assert.matches("What failed:        compute host compute1", m.body)
      assert.matches("Notification:       " .. r.store.notification_uuid, m.body)
      assert.matches("Time %(UTC%):         2026%-01%-01T00:00:00Z", m.body)
      assert.same({
        {timestamp = "2026-01-01 00:00:00", progress = "0.5", message = "alert mail sent to ops@example.com, oncall@example.com"},
        {timestamp = "2026-01-01 00:00:00", progress = "1.0", message = "alert mail done"},
      }, r.progress)
    end)

    it("uses the subject prefix", function()
      opts.config.subject_prefix = "[prod-eu]"
      local r = harness.run_task("send_alert_mail", opts)
      assert.matches("^%[prod%-eu%] compute host compute1 failed", r.mails[1].subject)
    end)

    it("describes a process failure", function()
      opts.store = {host_name = "compute1", process_name = "nova-compute"}
      local r = harness.run_task("send_alert_mail", opts)
      assert.truthy(r.ok)
      assert.equals("[kaifuku] process nova-compute on compute host compute1 failed: disabling the nova-compute "
        .. "service of compute1 so that no new instance is scheduled there", r.mails[1].subject)
    end)

    it("describes an instance failure and lists the instance", function()
      opts.store = {instance_uuid = WEB}
      opts.cloud = CLOUD
      local r = harness.run_task("send_alert_mail", opts)
      assert.truthy(r.ok)
      assert.matches("instance " .. WEB .. " failed: restarting the instance", r.mails[1].subject)
      -- matches also takes plain text, so ids with "-" need no escaping.
      assert.matches(WEB .. "  web-1  host=compute2  state=active", r.mails[1].body)
    end)
  end)

  describe("after the evacuation (post phase)", function()
    before_each(function()
      opts.store.instance_list = {WEB, DB}
      opts.cloud = CLOUD
      opts.phase = "post"
    end)

    it("lists the evacuated instances where they run now", function()
      local r = harness.run_task("send_alert_mail", opts)
      assert.truthy(r.ok)
      assert.equals("[kaifuku] compute host compute1 failed: evacuating 2 instance(s)", r.mails[1].subject)
      assert.matches("Instances:\n  " .. WEB .. "  web-1  host=compute2  state=active\n  " .. DB .. "  db-1  host=compute2", r.mails[1].body)
    end)

    it("mails each owner about their own instances when notify_owners is set", function()
      opts.config.notify_owners = true
      local r = harness.run_task("send_alert_mail", opts)
      assert.truthy(r.ok)
      assert.equals(3, #r.mails)
      assert.same({"alice@example.com"}, r.mails[2].to)
      assert.matches("web%-1", r.mails[2].body)
      assert.falsy(r.mails[2].body:find("db-1", 1, true))
      assert.same({"bob@example.com"}, r.mails[3].to)
      assert.equals("alert mail sent to 2 instance owner(s)", r.progress[2].message)
    end)

    it("reads the owner from another metadata key", function()
      opts.config.notify_owners = "yes"
      opts.config.owner_metadata_key = "contact"
      local r = harness.run_task("send_alert_mail", opts)
      assert.truthy(r.ok)
      assert.equals(1, #r.mails) -- nobody has a "contact" key
      assert.equals("alert mail sent to 0 instance owner(s)", r.progress[2].message)
    end)
  end)

  describe("misconfiguration", function()
    it("needs the operators' addresses", function()
      opts.config = {}
      local r = harness.run_task("send_alert_mail", opts)
      assert.falsy(r.ok)
      assert.equals("[send_alert_mail] to is required: the operators' addresses, comma separated", r.error)
      assert.equals(0, #r.mails)
    end)

    it("refuses an empty address list", function()
      opts.config.to = " , "
      local r = harness.run_task("send_alert_mail", opts)
      assert.falsy(r.ok)
      assert.matches("to is required", r.error)
    end)

    it("refuses a notify_owners that is not a boolean", function()
      opts.config.notify_owners = "sometimes"
      local r = harness.run_task("send_alert_mail", opts)
      assert.falsy(r.ok)
      assert.matches('notify_owners = "sometimes" is not a boolean', r.error)
    end)

    it("refuses a fail_on_error that is not a boolean, once mail fails", function()
      opts.config.fail_on_error = "maybe"
      opts.smtp = {error = "421 4.3.2 service not available"}
      local r = harness.run_task("send_alert_mail", opts)
      assert.falsy(r.ok)
      assert.matches('fail_on_error = "maybe" is not a boolean', r.error)
    end)
  end)

  describe("when the mail server refuses", function()
    before_each(function()
      opts.smtp = {error = "554 5.7.1 relay access denied"}
    end)

    it("logs the refusal and lets the recovery go on by default", function()
      local r = harness.run_task("send_alert_mail", opts)
      assert.truthy(r.ok)
      assert.equals(0, #r.mails)
      assert.matches("alert mail to the operators not sent: .*554 5%.7%.1 relay access denied", r.progress[1].message)
      local logged = harness.find_log(r, "error", "alert mail not sent")
      assert.truthy(logged)
      assert.matches("554 5.7.1 relay access denied", logged.fields.error)
      assert.equals("send_alert_mail", logged.fields.task)
    end)

    it("fails the task when fail_on_error is set", function()
      opts.config.fail_on_error = "true"
      local r = harness.run_task("send_alert_mail", opts)
      assert.falsy(r.ok)
      assert.equals("error", r.status)
      assert.equals("scripts/send_alert_mail.lua: alert mail not sent: smtp.send: 554 5.7.1 relay access denied", r.error)
    end)

    it("keeps going when only the owners' mails are refused", function()
      opts.smtp = nil
      opts.store.instance_list = {WEB}
      opts.cloud = CLOUD
      opts.config.notify_owners = true
      local r = harness.run_task("send_alert_mail", opts)
      assert.truthy(r.ok)
      assert.equals(2, #r.mails)
    end)
  end)
end)
