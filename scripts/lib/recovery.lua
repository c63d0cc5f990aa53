-- recovery: what the shipped scripts share. It reads a recovery flow's store
-- (whatever keys the flow has at that point), describes the failure and what
-- kaifuku is doing about it, and posts JSON with retries.
--
-- Used with require("recovery") from scripts/*.lua; it lives in scripts/lib/,
-- the only place scripts can require from.

local M = {}

-- iso formats a Unix time (default: now, on the engine's clock) as UTC ISO 8601.
function M.iso(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t or os.time())
end

-- event_requires and event_optional are the store keys event reads. A task
-- that describes the whole event declares them, so that kaifuku check and
-- kaifuku flows know what it reads:
--   requires = recovery.event_requires, optional = recovery.event_optional,
M.event_requires = {"notification_uuid"}
M.event_optional = {"host_name", "instance_uuid", "process_name", "instance_list", "reserved_host"}

-- event describes the notification a flow is recovering from, from the
-- store. The kind is inferred from the keys Masakari's flows start with:
-- host flows have host_name, the instance flow instance_uuid, the process
-- flow process_name and host_name.
function M.event(store)
  local ev = {
    notification_uuid = store.notification_uuid,
    host_name = store.host_name,
    instance_uuid = store.instance_uuid,
    process_name = store.process_name,
    reserved_host = store.reserved_host,
    time = M.iso(),
  }
  if store.process_name then
    ev.kind = "process"
  elseif store.instance_uuid then
    ev.kind = "instance"
  else
    ev.kind = "host"
  end
  local instances = {}
  if type(store.instance_list) == "table" then
    for _, id in ipairs(store.instance_list) do instances[#instances + 1] = tostring(id) end
    ev.prepared = true
  elseif store.instance_uuid then
    instances[1] = store.instance_uuid
  end
  ev.instances = instances
  return ev
end

-- failed says what failed, in words.
function M.failed(ev)
  if ev.kind == "process" then
    return string.format("process %s on compute host %s", ev.process_name, tostring(ev.host_name))
  elseif ev.kind == "instance" then
    return "instance " .. ev.instance_uuid
  end
  return "compute host " .. tostring(ev.host_name)
end

-- action says what kaifuku is doing about it at this point of the flow.
function M.action(ev)
  if ev.kind == "process" then
    return "disabling the nova-compute service of " .. tostring(ev.host_name) ..
      " so that no new instance is scheduled there"
  elseif ev.kind == "instance" then
    return "restarting the instance (stop, start, then confirm it is active)"
  end
  local target = ev.reserved_host and (" to the reserved host " .. ev.reserved_host) or ""
  if ev.prepared then
    return string.format("evacuating %d instance(s)%s", #ev.instances, target)
  end
  return "disabling the failed host's compute service, then evacuating its HA-enabled instances" .. target
end

-- summary is a one-line description for subjects and chat messages.
function M.summary(ev)
  return string.format("%s failed: %s", M.failed(ev), M.action(ev))
end

-- servers looks the instances up in the cloud (read-only), best effort:
-- it returns what it found, and the ids it could not look up as {id = id}.
function M.servers(ev)
  local out = {}
  for _, id in ipairs(ev.instances) do
    local ok, s = pcall(cloud.get_server, id)
    out[#out + 1] = ok and s or {id = id}
  end
  return out
end

-- post_json posts payload as JSON to url, retrying network errors and 5xx
-- (and 429) answers. It returns the response, or nil and why not. opts:
-- headers, timeout (seconds), retries, retry_delay (seconds before the first
-- retry, doubled after each; sleeps on the engine's clock, within the task's
-- timeout).
function M.post_json(url, payload, opts)
  opts = opts or {}
  local attempts = (opts.retries or 0) + 1
  local last
  for attempt = 1, attempts do
    local resp, err = http.request{method = "POST", url = url, headers = opts.headers, json = payload,
                                   timeout = opts.timeout}
    if resp and resp.status >= 200 and resp.status < 300 then
      return resp
    end
    if resp then
      last = string.format("HTTP %d from %s: %s", resp.status, url, resp.body:sub(1, 200))
      if resp.status < 500 and resp.status ~= 429 then
        return nil, last -- a client error does not get better by retrying
      end
    else
      last = err
    end
    if attempt < attempts then
      log.warn("post failed, will retry", {url = url, attempt = attempt, error = last})
      sleep((opts.retry_delay or 5) * 2 ^ (attempt - 1))
    end
  end
  return nil, last
end

-- headers builds request headers from settings: "token" goes into the header
-- named by "auth_header" (default X-Auth-Token).
function M.auth_headers()
  local headers = {}
  local token = config.get("token")
  if token and token ~= "" then
    headers[config.get("auth_header", "X-Auth-Token")] = token
  end
  return headers
end

-- outcome ends a script that could not deliver: an error when the
-- fail_on_error setting is true, a logged error otherwise (the recovery goes
-- on).
function M.outcome(what, err)
  if config.bool("fail_on_error", false) then
    error(what .. ": " .. tostring(err), 0)
  end
  log.error(what .. "; the recovery goes on (fail_on_error = false)", {error = tostring(err)})
end

return M
