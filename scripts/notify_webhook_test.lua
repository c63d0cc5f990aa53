-- Tests of notify_webhook.lua: run them with `kaifuku test scripts/`.

local HOOK = "https://hooks.example.com/services/kaifuku"
local WEB = "3f0e8a52-5c1d-4b7e-9f7a-2d6c1e0b9a01"

describe("notify_webhook", function()
  local opts

  before_each(function()
    opts = {
      store = {host_name = "compute1"},
      config = {url = HOOK},
      http = {{method = "POST", url = HOOK, status = 200, body = "ok"}},
    }
  end)

  it("posts a Slack-compatible text and the structured event", function()
    local r = harness.run_task("notify_webhook", opts)
    assert.truthy(r.ok)
    assert.equals(1, #r.http_requests)
    local req = r.http_requests[1]
    assert.equals("POST", req.method)
    assert.equals(HOOK, req.url)
    assert.equals("application/json", req.headers["Content-Type"])
    local id = r.store.notification_uuid
    assert.equals(":rotating_light: kaifuku: compute host compute1 failed: disabling the failed host's compute "
      .. "service, then evacuating its HA-enabled instances (notification " .. id .. ")", req.body.text)
    assert.same({
      source = "kaifuku",
      kind = "host",
      notification_uuid = id,
      host_name = "compute1",
      instances = {},
      failed = "compute host compute1",
      action = "disabling the failed host's compute service, then evacuating its HA-enabled instances",
      time = "2026-01-01T00:00:00Z",
    }, req.body.event)
    assert.is_nil(req.body.channel)
    assert.equals("webhook notified (HTTP 200)", r.progress[1].message)
  end)

  it("sets channel, username and the token header from its settings", function()
    opts.config.channel = "#cloud-ops"
    opts.config.username = "kaifuku"
    opts.config.token = "s3cret"
    opts.config.auth_header = "X-Hook-Token"
    local r = harness.run_task("notify_webhook", opts)
    assert.truthy(r.ok)
    local req = r.http_requests[1]
    assert.equals("#cloud-ops", req.body.channel)
    assert.equals("kaifuku", req.body.username)
    assert.equals("s3cret", req.headers["X-Hook-Token"])
  end)

  it("names the reserved host and the instances of a reserved-host attempt", function()
    opts.store.reserved_host = "compute3"
    opts.store.instance_list = {WEB}
    local r = harness.run_task("notify_webhook", opts)
    assert.truthy(r.ok)
    local ev = r.http_requests[1].body.event
    assert.equals("compute3", ev.reserved_host)
    assert.same({WEB}, ev.instances)
    assert.equals("evacuating 1 instance(s) to the reserved host compute3", ev.action)
  end)

  it("describes an instance failure", function()
    opts.store = {instance_uuid = WEB}
    local r = harness.run_task("notify_webhook", opts)
    assert.truthy(r.ok)
    local ev = r.http_requests[1].body.event
    assert.equals("instance", ev.kind)
    assert.same({WEB}, ev.instances)
  end)

  describe("misconfiguration", function()
    it("needs the url", function()
      opts.config = {}
      local r = harness.run_task("notify_webhook", opts)
      assert.falsy(r.ok)
      assert.matches("[notify_webhook] url is required: the webhook URL", r.error)
      assert.equals(0, #r.http_requests)
    end)

    it("refuses retries that are not a number", function()
      opts.config.retries = "two"
      local r = harness.run_task("notify_webhook", opts)
      assert.falsy(r.ok)
      assert.matches('retries = "two" is not an integer', r.error)
    end)

    it("refuses a url whose host is not allowed", function()
      -- With a configuration that lists the allowed hosts, the list applies
      -- as it is: this one only allows the metering API.
      opts.config_file = "testdata/allowed_hosts.conf"
      local r = harness.run_task("notify_webhook", opts)
      -- A host that is not allowed is a mistake in the configuration, not a
      -- failing remote: the task fails even with fail_on_error = false.
      assert.falsy(r.ok)
      assert.matches('host "hooks.example.com" is not allowed: add it to [lua] http_allowed_hosts', r.error)
      assert.equals(0, #r.http_requests)
    end)
  end)

  describe("when the webhook fails", function()
    it("retries a 500 with backoff, then logs and lets the recovery go on", function()
      opts.http = {{method = "POST", url = HOOK, status = 500, body = "upstream broke"}}
      local r = harness.run_task("notify_webhook", opts)
      assert.truthy(r.ok)
      assert.equals(3, #r.http_requests) -- one try and two retries
      assert.equals(15, r.duration)      -- 5 s, then 10 s, on the fake clock
      local e = harness.find_log(r, "error", "webhook not notified")
      assert.truthy(e)
      assert.equals("HTTP 500 from " .. HOOK .. ": upstream broke", e.fields.error)
      -- and the operator sees it in the notification's details
      assert.equals(1, #r.progress)
      assert.equals("webhook not notified: HTTP 500 from " .. HOOK .. ": upstream broke", r.progress[1].message)
    end)

    it("fails the task when fail_on_error is set", function()
      opts.http = {{method = "POST", url = HOOK, status = 503}}
      opts.config.fail_on_error = "true"
      opts.config.retries = 0
      local r = harness.run_task("notify_webhook", opts)
      assert.falsy(r.ok)
      assert.equals("scripts/notify_webhook.lua: webhook not notified: HTTP 503 from " .. HOOK .. ": ", r.error)
      assert.equals(1, #r.http_requests)
    end)

    it("succeeds when a retry gets through", function()
      opts.http = {
        {method = "POST", url = HOOK, status = 502, times = 1},
        {method = "POST", url = HOOK, status = 200},
      }
      opts.config.retry_delay = 1
      local r = harness.run_task("notify_webhook", opts)
      assert.truthy(r.ok)
      assert.equals(2, #r.http_requests)
      assert.equals(1, r.duration)
      assert.truthy(harness.find_log(r, "warning", "post failed, will retry"))
      assert.equals("webhook notified (HTTP 200)", r.progress[1].message)
    end)

    it("does not retry a client error", function()
      opts.http = {{method = "POST", url = HOOK, status = 404, body = "no such hook"}}
      local r = harness.run_task("notify_webhook", opts)
      assert.truthy(r.ok)
      assert.equals(1, #r.http_requests)
      assert.equals(0, r.duration)
    end)

    it("retries a network error", function()
      opts.http = {{method = "POST", url = HOOK, error = "connection refused"}}
      opts.config.fail_on_error = "yes"
      local r = harness.run_task("notify_webhook", opts)
      assert.falsy(r.ok)
      assert.equals(3, #r.http_requests)
      assert.matches("webhook not notified: .*connection refused", r.error)
    end)
  end)
end)
