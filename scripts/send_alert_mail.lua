-- send_alert_mail: mail the operators (and, optionally, the owners of the
-- affected instances) what failed and what kaifuku is doing about it.
--
-- Put it in the pre phase to announce a recovery, or in the post phase to
-- report the evacuated instances (after prepare_HA_enabled_instances_task it
-- reads instance_list). Works in every flow: host, instance and process.
--
-- Settings, in the [send_alert_mail] section:
--   to                 operators' addresses, comma separated (required)
--   cc                 more addresses (optional)
--   subject_prefix     default "[kaifuku]"
--   notify_owners      also mail each affected instance's owner (default false);
--                      the address is read from the instance's metadata
--   owner_metadata_key metadata key holding the owner's address (default owner_email)
--   fail_on_error      fail the task (and so the recovery) when mail cannot be
--                      sent (default false: log the error and go on)
-- The mail server is the [smtp] section.

local recovery = require("recovery")

local function body(ev, servers)
  local lines = {
    "kaifuku is recovering from a failure.",
    "",
    "What failed:        " .. recovery.failed(ev),
    "What is being done: " .. recovery.action(ev),
    "Notification:       " .. tostring(ev.notification_uuid),
    "Time (UTC):         " .. ev.time,
  }
  if #servers > 0 then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "Instances:"
    for _, s in ipairs(servers) do
      lines[#lines + 1] = string.format("  %s  %s  host=%s  state=%s", s.id, s.name or "?", s.host or "?", s.vm_state or "?")
    end
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Follow the recovery with: GET /v1/notifications/" .. tostring(ev.notification_uuid)
  return table.concat(lines, "\n")
end

local function mail_owners(ev, servers, subject)
  local key = config.get("owner_metadata_key", "owner_email")
  local by_owner, owners = {}, {}
  for _, s in ipairs(servers) do
    local owner = s.metadata and s.metadata[key]
    if owner and owner ~= "" then
      if not by_owner[owner] then
        by_owner[owner] = {}
        owners[#owners + 1] = owner
      end
      table.insert(by_owner[owner], s)
    end
  end
  table.sort(owners)
  local sent = 0
  for _, owner in ipairs(owners) do
    local ok, err = smtp.send{to = owner, subject = subject, body = body(ev, by_owner[owner])}
    if ok then
      sent = sent + 1
    else
      recovery.outcome("mail to instance owner " .. owner .. " not sent", err)
    end
  end
  return sent
end

return {
  requires = recovery.event_requires,
  optional = recovery.event_optional,
  timeout = 60,
  settings = {
    to = {type = "list", required = true, doc = "the operators' addresses, comma separated"},
    cc = {type = "list", doc = "more addresses, comma separated"},
    subject_prefix = {type = "string", default = "[kaifuku]", doc = "the start of every subject"},
    notify_owners = {type = "boolean", default = false, doc = "also mail each affected instance's owner, read from its metadata"},
    owner_metadata_key = {type = "string", default = "owner_email", doc = "the metadata key holding an owner's address"},
    fail_on_error = {type = "boolean", default = false, doc = "fail the task (and so the recovery) when mail cannot be sent"},
  },

  execute = function(store)
    local to = config.list("to")
    if #to == 0 then
      error("config: [send_alert_mail] to is required: the operators' addresses, comma separated", 0)
    end
    local ev = recovery.event(store)
    local servers = {}
    if #ev.instances > 0 then
      servers = recovery.servers(ev)
    end
    local subject = config.get("subject_prefix", "[kaifuku]") .. " " .. recovery.summary(ev)
    local ok, err = smtp.send{to = to, cc = config.list("cc"), subject = subject, body = body(ev, servers)}
    if ok then
      log.info("alert mail sent", {to = table.concat(to, ", ")})
      progress("alert mail sent to " .. table.concat(to, ", "), 0.5)
    else
      recovery.outcome("alert mail not sent", err)
      progress("alert mail to the operators not sent: " .. tostring(err), 0.5)
    end
    if config.bool("notify_owners", false) then
      local n = mail_owners(ev, servers, subject)
      progress(string.format("alert mail sent to %d instance owner(s)", n), 1.0)
    else
      progress("alert mail done", 1.0)
    end
  end,
}
