-- update_metering: post the recovered instances, with their recovery times,
-- to a metering (pricing) API, so that the downtime and the move to another
-- host are accounted for. Put it in the post phase, after the instances are
-- recovered: after evacuate_instances_task (host flows, instance_list) or
-- confirm_instance_active_task (instance flow, instance_uuid).
--
-- The body is
--   {"source": "kaifuku", "notification_uuid": ..., "kind": "host",
--    "failed_host": "compute1", "recovered_at": "2026-11-25T10:04:12Z",
--    "instances": [{"id": ..., "name": ..., "tenant_id": ..., "user_id": ...,
--                   "host": <where it runs now>, "vm_state": ...,
--                   "recovered_at": ...}]}
--
-- Settings, in the [update_metering] section:
--   url            the metering API endpoint (required); its host must be
--                  listed in [lua] http_allowed_hosts
--   token          sent in the header named by auth_header (optional)
--   auth_header    default X-Auth-Token
--   timeout        seconds per request (default 10)
--   retries        further attempts after a network error or a 5xx (default 3)
--   retry_delay    seconds before the first retry, doubled after (default 5)
--   fail_on_error  fail the task (the notification ends in error, so the
--                  operator sees it) when the API cannot be updated (default
--                  true: metering is billing)

local recovery = require("recovery")

return {
  requires = {"notification_uuid"},
  optional = {"host_name", "instance_uuid", "instance_list"},
  provides = {"metering_records"},
  timeout = 120,
  settings = {
    url = {type = "string", required = true, doc = "the metering API endpoint; its host must be listed in [lua] http_allowed_hosts"},
    token = {type = "string", doc = "sent in the header named by auth_header"},
    auth_header = {type = "string", default = "X-Auth-Token", doc = "the header that carries token"},
    timeout = {type = "number", default = 10, doc = "seconds per request"},
    retries = {type = "integer", default = 3, doc = "further attempts after a network error or a 5xx"},
    retry_delay = {type = "number", default = 5, doc = "seconds before the first retry, doubled after"},
    fail_on_error = {type = "boolean", default = true, doc = "fail the task (the notification ends in error) when the API cannot be updated"},
  },

  execute = function(store)
    local url = config.required("url")
    local ev = recovery.event(store)
    if #ev.instances == 0 then
      log.info("no recovered instance to meter")
      return {metering_records = 0}
    end
    local records = {}
    for _, s in ipairs(recovery.servers(ev)) do
      records[#records + 1] = {
        id = s.id, name = s.name, tenant_id = s.tenant_id, user_id = s.user_id,
        host = s.host, vm_state = s.vm_state, recovered_at = ev.time,
      }
    end
    local payload = {
      source = "kaifuku",
      notification_uuid = ev.notification_uuid,
      kind = ev.kind,
      failed_host = ev.host_name,
      recovered_at = ev.time,
      instances = records,
    }
    local resp, err = recovery.post_json(url, payload, {
      headers = recovery.auth_headers(),
      timeout = config.number("timeout", 10),
      retries = config.int("retries", 3),
      retry_delay = config.number("retry_delay", 5),
    })
    if not resp then
      if config.bool("fail_on_error", true) then
        error("metering API not updated: " .. tostring(err), 0)
      end
      log.error("metering API not updated; the recovery goes on (fail_on_error = false)", {error = tostring(err)})
      progress("metering API not updated: " .. tostring(err), 1.0)
      return {metering_records = 0}
    end
    log.info("metering updated", {url = url, instances = #records, status = resp.status})
    progress(string.format("metering updated for %d instance(s)", #records), 1.0)
    return {metering_records = #records}
  end,
}
