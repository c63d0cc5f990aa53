# write_conf: (re)write $CONF_FILE from env.sh's values; sourced by setup.sh
# and start.sh (so a changed port or token lifetime takes effect on start)
write_conf() {
    local dbg=False
    [[ "${KEYSTONEBED_DEBUG:-0}" == 1 ]] && dbg=True
    mkdir -p "$STATE/etc" "$STATE/log"
    cat > "$CONF_FILE.new" <<CONF
# written by the Keystone bed (setup.sh / start.sh); edits are overwritten
[DEFAULT]
debug = $dbg
log_file = $STATE/log/keystone.log
# public endpoint Keystone advertises in its version documents
public_endpoint = http://127.0.0.1:$PORT/

[database]
# ?timeout: sqlite busy timeout (s); the uwsgi workers share the file
connection = sqlite:///$STATE/db/keystone.sqlite?timeout=30

[token]
provider = fernet
# token lifetime in seconds (KEYSTONEBED_TOKEN_EXPIRATION; Keystone's
# default 3600).  A validating service may still validate an expired token
# with ?allow_expired=1 within allow_expired_window (default 172800 s).
expiration = $TOKEN_EXPIRATION

[fernet_tokens]
key_repository = $STATE/fernet-keys
max_active_keys = 3

[fernet_receipts]
key_repository = $STATE/fernet-keys

[credential]
key_repository = $STATE/credential-keys

[identity]
# test bed: cheap bcrypt (4 rounds, the minimum) so each password
# authentication takes milliseconds instead of ~0.3 s (default 12)
password_hash_rounds = 4

[cache]
enabled = false

[oslo_policy]
# Keystone's own defaults (Zed): enforce_scope = False,
# enforce_new_defaults = False
CONF
    mv "$CONF_FILE.new" "$CONF_FILE"
}
