-- notify_webhook: post a JSON event about the recovery to a webhook. The
-- body has a Slack-compatible "text" field (Slack, Mattermost and Rocket.Chat
-- incoming webhooks show it) plus the structured fields under "event".
--
-- Settings, in the [notify_webhook] section:
--   url            the webhook URL (required); its host must be listed in
--                  [lua] http_allowed_hosts
--   channel        Slack channel override (optional)
--   username       Slack user name override (optional)
--   token          sent in the header named by auth_header (optional)
--   auth_header    default X-Auth-Token
--   timeout        seconds per request (default 10)
--   retries        further attempts after a network error or a 5xx (default 2)
--   retry_delay    seconds before the first retry, doubled after (default 5)
--   fail_on_error  fail the task when the webhook cannot be reached
--                  (default false: log the error, record it as a progress
--                  entry and go on)

local recovery = require("recovery")

return {
  requires = recovery.event_requires,
  optional = recovery.event_optional,
  timeout = 60,
  settings = {
    url = {type = "string", required = true, doc = "the webhook URL; its host must be listed in [lua] http_allowed_hosts"},
    channel = {type = "string", doc = "Slack channel override"},
    username = {type = "string", doc = "Slack user name override"},
    token = {type = "string", doc = "sent in the header named by auth_header"},
    auth_header = {type = "string", default = "X-Auth-Token", doc = "the header that carries token"},
    timeout = {type = "number", default = 10, doc = "seconds per request"},
    retries = {type = "integer", default = 2, doc = "further attempts after a network error or a 5xx"},
    retry_delay = {type = "number", default = 5, doc = "seconds before the first retry, doubled after"},
    fail_on_error = {type = "boolean", default = false, doc = "fail the task when the webhook cannot be reached"},
  },

  execute = function(store)
    local url = config.required("url")
    local ev = recovery.event(store)
    local payload = {
      text = ":rotating_light: kaifuku: " .. recovery.summary(ev) .. " (notification " .. tostring(ev.notification_uuid) .. ")",
      event = {
        source = "kaifuku",
        kind = ev.kind,
        notification_uuid = ev.notification_uuid,
        host_name = ev.host_name,
        instance_uuid = ev.instance_uuid,
        process_name = ev.process_name,
        reserved_host = ev.reserved_host,
        instances = json.array(ev.instances),
        failed = recovery.failed(ev),
        action = recovery.action(ev),
        time = ev.time,
      },
    }
    payload.channel = config.get("channel")
    payload.username = config.get("username")
    local resp, err = recovery.post_json(url, payload, {
      headers = recovery.auth_headers(),
      timeout = config.number("timeout", 10),
      retries = config.int("retries", 2),
      retry_delay = config.number("retry_delay", 5),
    })
    if resp then
      log.info("webhook notified", {url = url, status = resp.status})
      progress("webhook notified (HTTP " .. resp.status .. ")", 1.0)
    else
      recovery.outcome("webhook not notified", err)
      progress("webhook not notified: " .. tostring(err), 1.0)
    end
  end,
}
