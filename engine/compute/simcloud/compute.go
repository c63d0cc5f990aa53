package simcloud

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

// Values of the fields simcloud does not simulate, shaped as the Nova bed's.
const (
	imageID  = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
	flavorID = "1"
	zone     = "nova"
)

// handleCompute serves /v2.1/...; path is what follows /v2.1.
func (s *Server) handleCompute(w http.ResponseWriter, r *http.Request, path string) {
	path = strings.TrimSuffix(path, "/")
	if path == "" { // version document: no token needed
		s.count(r, "/v2.1/")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeFault(w, http.StatusMethodNotAllowed, "The method is not allowed for this resource.")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"version": s.computeVersion(r, "v2.1")})
		return
	}
	if !s.tokens.valid(r.Header.Get("X-Auth-Token")) {
		s.count(r, "401")
		w.Header().Set("WWW-Authenticate", "Keystone uri='"+baseURL(r)+"/v3'")
		identityError(w, http.StatusUnauthorized, "The request you have made requires authentication.")
		return
	}
	mv, err := requestedMicroversion(r)
	if err != nil {
		s.writeError(w, err)
		return
	}
	h := w.Header()
	h.Set("OpenStack-API-Version", "compute "+mv.String())
	h.Set("X-OpenStack-Nova-API-Version", mv.String())
	h.Set("Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version")
	h.Set("X-Compute-Request-Id", h.Get("X-Openstack-Request-Id"))

	seg := strings.Split(strings.TrimPrefix(path, "/"), "/")
	route := routeOf(seg)
	s.count(r, route)
	c := call{s: s, w: w, r: r, mv: mv}
	switch route {
	case "/servers", "/servers/detail":
		c.only(http.MethodGet, func() { c.listServers(route == "/servers/detail") })
	case "/servers/{id}":
		c.only(http.MethodGet, func() { c.showServer(seg[1]) })
	case "/servers/{id}/action":
		c.only(http.MethodPost, func() { c.serverAction(seg[1]) })
	case "/os-services":
		c.only(http.MethodGet, c.listServices)
	case "/os-services/{id}":
		c.only(http.MethodPut, func() { c.updateService(seg[1]) })
	case "/os-aggregates":
		c.only(http.MethodGet, c.listAggregates)
	case "/os-aggregates/{id}":
		c.only(http.MethodGet, func() { c.showAggregate(seg[1]) })
	case "/os-aggregates/{id}/action":
		c.only(http.MethodPost, func() { c.aggregateAction(seg[1]) })
	case "/os-migrations":
		c.only(http.MethodGet, c.listMigrations)
	case "/flavors", "/flavors/detail":
		c.only(http.MethodGet, func() {
			writeJSON(w, http.StatusOK, map[string]any{"flavors": []any{c.flavorView(route == "/flavors/detail")}})
		})
	case "/flavors/{id}":
		c.only(http.MethodGet, func() {
			if seg[1] != flavorID {
				writeFault(w, http.StatusNotFound, "Flavor "+seg[1]+" could not be found.")
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"flavor": c.flavorView(true)})
		})
	default:
		writeFault(w, http.StatusNotFound, "The resource could not be found.")
	}
}

// routeOf names the route of a path for counters and dispatch.
func routeOf(seg []string) string {
	if len(seg) == 0 {
		return "/"
	}
	switch {
	case len(seg) == 1:
		return "/" + seg[0]
	case len(seg) == 2 && seg[1] == "detail":
		return "/" + seg[0] + "/detail"
	case len(seg) == 2:
		return "/" + seg[0] + "/{id}"
	case len(seg) == 3 && seg[2] == "action":
		return "/" + seg[0] + "/{id}/action"
	}
	return "/" + strings.Join(seg, "/")
}

// call is one compute API request.
type call struct {
	s  *Server
	w  http.ResponseWriter
	r  *http.Request
	mv microversion
}

func (c call) only(method string, f func()) {
	if c.r.Method != method {
		c.w.Header().Set("Allow", method)
		writeFault(c.w, http.StatusMethodNotAllowed, "The method is not allowed for this resource.")
		return
	}
	f()
}

func (c call) fail(err error) { c.s.writeError(c.w, err) }

func (c call) badRequest(format string, args ...any) {
	writeFault(c.w, http.StatusBadRequest, fmt.Sprintf(format, args...))
}

// --- servers -------------------------------------------------------------

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func stampMicro(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000") }

// hostStatus is Nova's host_status (2.16) of a host, read from the cloud's
// services (which counts no API call).
func hostStatus(services []simulated.ServiceState, host string) string {
	if host == "" {
		return ""
	}
	for _, sv := range services {
		if sv.Host != host {
			continue
		}
		switch {
		case sv.ForcedDown || sv.State == "down":
			return "DOWN"
		case sv.Status == "disabled":
			return "MAINTENANCE"
		default:
			return "UP"
		}
	}
	return "UNKNOWN"
}

// serverView renders a server as Nova does at the call's microversion;
// services are the cloud's, for host_status.
func (c call) serverView(sv compute.Server, services []simulated.ServiceState, detail bool) map[string]any {
	base := baseURL(c.r)
	links := []any{
		map[string]any{"rel": "self", "href": base + "/v2.1/servers/" + sv.ID},
		map[string]any{"rel": "bookmark", "href": base + "/servers/" + sv.ID},
	}
	if !detail {
		return map[string]any{"id": sv.ID, "name": sv.Name, "links": links}
	}
	tenant := sv.TenantID
	if tenant == "" {
		tenant = "admin"
	}
	user := sv.UserID
	if user == "" {
		user = "admin"
	}
	md := sv.Metadata
	if md == nil {
		md = map[string]string{}
	}
	hostID := ""
	if sv.Host != "" {
		sum := sha256.Sum224([]byte(tenant + sv.Host))
		hostID = hex.EncodeToString(sum[:])
	}
	created := c.s.started
	idx := c.s.cloud.ServerPosition(sv.ID) // the server's place in the fixture, for its instance name
	m := map[string]any{
		"id": sv.ID, "name": sv.Name, "status": sv.Status, "tenant_id": tenant, "user_id": user,
		"metadata": md, "hostId": hostID,
		"image": map[string]any{"id": imageID, "links": []any{
			map[string]any{"rel": "bookmark", "href": base + "/images/" + imageID}}},
		"created": stamp(created), "updated": stamp(c.s.now()),
		"addresses": map[string]any{}, "accessIPv4": "", "accessIPv6": "", "links": links,
		"OS-DCF:diskConfig": "MANUAL", "OS-EXT-AZ:availability_zone": zone,
		"config_drive": "", "key_name": nil,
		"OS-SRV-USG:launched_at": stampMicro(created), "OS-SRV-USG:terminated_at": nil,
		"OS-EXT-SRV-ATTR:host":                 nullable(sv.Host),
		"OS-EXT-SRV-ATTR:instance_name":        fmt.Sprintf("instance-%08x", idx),
		"OS-EXT-SRV-ATTR:hypervisor_hostname":  nullable(sv.HypervisorHostname),
		"OS-EXT-STS:task_state":                nullable(sv.TaskState),
		"OS-EXT-STS:vm_state":                  sv.VMState,
		"OS-EXT-STS:power_state":               sv.PowerState,
		"os-extended-volumes:volumes_attached": []any{},
	}
	switch sv.Status { // nova/api/openstack/compute/views/servers.py
	case "ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING":
		m["progress"] = 0
	}
	if c.mv.atLeast(47) {
		m["flavor"] = map[string]any{"vcpus": 1, "ram": 512, "disk": 1, "ephemeral": 0, "swap": 0,
			"original_name": "m1.tiny", "extra_specs": map[string]any{}}
	} else {
		m["flavor"] = map[string]any{"id": flavorID, "links": []any{
			map[string]any{"rel": "bookmark", "href": base + "/flavors/" + flavorID}}}
	}
	if c.mv.atLeast(3) {
		m["OS-EXT-SRV-ATTR:reservation_id"] = fmt.Sprintf("r-%08x", idx)
		m["OS-EXT-SRV-ATTR:launch_index"] = 0
		m["OS-EXT-SRV-ATTR:hostname"] = sv.Name
		m["OS-EXT-SRV-ATTR:kernel_id"] = ""
		m["OS-EXT-SRV-ATTR:ramdisk_id"] = ""
		m["OS-EXT-SRV-ATTR:root_device_name"] = "/dev/sda"
		m["OS-EXT-SRV-ATTR:user_data"] = nil
	}
	if c.mv.atLeast(9) {
		m["locked"] = sv.Locked
	}
	if c.mv.atLeast(16) {
		m["host_status"] = hostStatus(services, sv.Host)
	}
	if c.mv.atLeast(19) {
		m["description"] = nil
	}
	if c.mv.atLeast(26) {
		m["tags"] = []any{}
	}
	if c.mv.atLeast(63) {
		m["trusted_image_certificates"] = nil
	}
	if c.mv.atLeast(73) {
		c.s.mu.Lock()
		reason, ok := c.s.lockedReason[strings.ToLower(sv.ID)]
		c.s.mu.Unlock()
		if ok && sv.Locked {
			m["locked_reason"] = reason
		} else {
			m["locked_reason"] = nil
		}
	}
	return m
}

func (c call) listServers(detail bool) {
	q := c.r.URL.Query()
	limit := c.s.opts.MaxLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			c.badRequest("Invalid input for query parameters limit. Value: %s. '%s' does not match '^[0-9]*$'", v, v)
			return
		}
		limit = min(n, c.s.opts.MaxLimit)
	}
	var list []compute.Server
	var err error
	if v := q.Get("changes-since"); v == "" {
		list, err = c.s.cloud.ListServers(c.r.Context(), q.Get("host"))
	} else {
		// Servers changed at or after the time, on every host unless host
		// narrows it, as Nova's changes-since filter.
		since, perr := time.Parse(time.RFC3339Nano, v)
		if perr != nil {
			c.badRequest("Invalid input for query parameters changes-since. Value: %s. '%s' is not a 'date-time'", v, v)
			return
		}
		list, err = c.s.cloud.ListServersChangedSince(c.r.Context(), since)
		if host := q.Get("host"); err == nil && host != "" {
			list = slices.DeleteFunc(list, func(sv compute.Server) bool { return sv.Host != host })
		}
	}
	if err != nil {
		c.fail(err)
		return
	}
	if marker := q.Get("marker"); marker != "" {
		at := -1
		for i, sv := range list {
			if strings.EqualFold(sv.ID, marker) {
				at = i
			}
		}
		if at < 0 {
			c.badRequest("marker [%s] not found", marker)
			return
		}
		list = list[at+1:]
	}
	services := c.s.cloud.Services()
	out := make([]any, 0, len(list))
	last := ""
	for _, sv := range list {
		if name := q.Get("name"); name != "" && !strings.Contains(sv.Name, name) {
			continue
		}
		if st := q.Get("status"); st != "" && !strings.EqualFold(st, sv.Status) {
			continue
		}
		if len(out) == limit {
			break
		}
		out = append(out, c.serverView(sv, services, detail))
		last = sv.ID
	}
	body := map[string]any{"servers": out}
	if len(out) == limit && limit > 0 {
		// Nova links to the next page whenever a page is full
		q.Set("limit", strconv.Itoa(limit))
		q.Set("marker", last)
		body["servers_links"] = []any{map[string]any{"rel": "next", "href": baseURL(c.r) + "/v2.1" + strings.TrimPrefix(c.r.URL.Path, "/v2.1") + "?" + q.Encode()}}
	}
	writeJSON(c.w, http.StatusOK, body)
}

func (c call) showServer(id string) {
	sv, err := c.s.cloud.GetServer(c.r.Context(), id)
	if err != nil {
		c.fail(err)
		return
	}
	m := c.serverView(sv, c.s.cloud.Services(), true)
	if c.mv.atLeast(71) {
		m["server_groups"] = []any{}
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"server": m})
}

func (c call) serverAction(id string) {
	body, err := decodeBody(c.w, c.r)
	if err != nil {
		c.fail(err)
		return
	}
	if len(body) != 1 {
		c.badRequest("A server action takes exactly one action, got %d.", len(body))
		return
	}
	ctx := c.r.Context()
	for action, arg := range body {
		switch action {
		case "os-stop":
			c.emptyAction(c.s.cloud.Stop(ctx, id))
		case "os-start":
			c.emptyAction(c.s.cloud.Start(ctx, id))
		case "lock":
			reason, ok := c.lockReason(arg)
			if !ok {
				return
			}
			err := c.s.cloud.Lock(ctx, id)
			if err == nil {
				c.s.mu.Lock()
				c.s.lockedReason[strings.ToLower(id)] = reason
				c.s.mu.Unlock()
			}
			c.emptyAction(err)
		case "unlock":
			err := c.s.cloud.Unlock(ctx, id)
			if err == nil {
				c.s.mu.Lock()
				delete(c.s.lockedReason, strings.ToLower(id))
				c.s.mu.Unlock()
			}
			c.emptyAction(err)
		case "os-resetState":
			var rs struct {
				State *string `json:"state"`
			}
			if err := strictDecode(arg, &rs); err != nil || rs.State == nil {
				c.badRequest("Invalid input for field/attribute os-resetState. Value: %s. 'state' is a required property", compact(arg))
				return
			}
			if *rs.State != "active" && *rs.State != "error" {
				c.badRequest("Invalid input for field/attribute state. Value: %s. '%s' is not one of ['active', 'error']", *rs.State, *rs.State)
				return
			}
			c.emptyAction(c.s.cloud.ResetState(ctx, id, *rs.State))
		case "evacuate":
			c.evacuate(id, arg)
		default:
			c.badRequest("There is no such action: %s", action)
		}
	}
}

func (c call) emptyAction(err error) {
	if err != nil {
		c.fail(err)
		return
	}
	writeEmpty(c.w, http.StatusAccepted)
}

// lockReason reads {"lock": null} or, from 2.73, {"lock": {"locked_reason": r}}.
func (c call) lockReason(arg json.RawMessage) (string, bool) {
	if string(arg) == "null" || len(arg) == 0 {
		return "", true
	}
	if !c.mv.atLeast(73) {
		c.badRequest("Invalid input for field/attribute lock. Value: %s. %s is not of type 'null'", compact(arg), compact(arg))
		return "", false
	}
	var l struct {
		Reason *string `json:"locked_reason"`
	}
	if err := strictDecode(arg, &l); err != nil {
		c.badRequest("Invalid input for field/attribute lock. Value: %s. %v", compact(arg), err)
		return "", false
	}
	if l.Reason == nil {
		return "", true
	}
	return *l.Reason, true
}

// evacuate validates the body as Nova's schemas do: onSharedStorage is
// required before 2.14 and refused from 2.14 on; force exists from 2.29.
func (c call) evacuate(id string, arg json.RawMessage) {
	var body map[string]json.RawMessage
	if err := json.Unmarshal(arg, &body); err != nil || body == nil {
		c.badRequest("Invalid input for field/attribute evacuate. Value: %s. %s is not of type 'object'", compact(arg), compact(arg))
		return
	}
	allowed := map[string]bool{"host": true, "adminPass": true}
	if !c.mv.atLeast(14) {
		allowed["onSharedStorage"] = true
		if _, ok := body["onSharedStorage"]; !ok {
			c.badRequest("Invalid input for field/attribute evacuate. Value: %s. 'onSharedStorage' is a required property", compact(arg))
			return
		}
	}
	if c.mv.atLeast(29) {
		allowed["force"] = true
	}
	for k := range body {
		if !allowed[k] {
			c.badRequest("Invalid input for field/attribute evacuate. Value: %s. Additional properties are not allowed ('%s' was unexpected)", compact(arg), k)
			return
		}
	}
	target := ""
	if raw, ok := body["host"]; ok {
		if err := json.Unmarshal(raw, &target); err != nil || target == "" {
			c.badRequest("Invalid input for field/attribute host. Value: %s. %s is not of type 'string'", compact(raw), compact(raw))
			return
		}
	}
	if err := c.s.cloud.Evacuate(c.r.Context(), id, target); err != nil {
		c.fail(err)
		return
	}
	if c.mv.atLeast(14) {
		writeEmpty(c.w, http.StatusOK)
		return
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"adminPass": randomHex(6)})
}

// flavorView is the one flavor every simulated server has.
func (c call) flavorView(detail bool) map[string]any {
	base := baseURL(c.r)
	m := map[string]any{"id": flavorID, "name": "m1.tiny", "links": []any{
		map[string]any{"rel": "self", "href": base + "/v2.1/flavors/" + flavorID},
		map[string]any{"rel": "bookmark", "href": base + "/flavors/" + flavorID},
	}}
	if c.mv.atLeast(55) {
		m["description"] = nil
	}
	if detail {
		m["vcpus"], m["ram"], m["disk"], m["swap"] = 1, 512, 1, ""
		m["OS-FLV-EXT-DATA:ephemeral"], m["OS-FLV-DISABLED:disabled"] = 0, false
		m["rxtx_factor"], m["os-flavor-access:is_public"] = 1.0, true
		if c.mv.atLeast(61) {
			m["extra_specs"] = map[string]any{}
		}
	}
	return m
}

// handleImage serves a read-only image API v2 with the one image every
// simulated server was booted from (no token needed).
func (s *Server) handleImage(w http.ResponseWriter, r *http.Request, path string) {
	base := baseURL(r)
	image := map[string]any{
		"id": imageID, "name": "fake-image", "status": "active", "visibility": "public",
		"disk_format": "raw", "container_format": "bare", "min_disk": 0, "min_ram": 0, "size": 1048576,
		"protected": false, "tags": []any{}, "created_at": stamp(s.started), "updated_at": stamp(s.started),
		"self": "/v2/images/" + imageID, "file": "/v2/images/" + imageID + "/file", "schema": "/v2/schemas/image",
	}
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		identityError(w, http.StatusMethodNotAllowed, "simcloud's image service is read-only")
	case path == "":
		writeJSON(w, http.StatusOK, map[string]any{"versions": []any{map[string]any{
			"id": "v2.15", "status": "CURRENT", "links": []any{map[string]any{"rel": "self", "href": base + "/image/v2/"}},
		}}})
	case path == "/v2/images":
		writeJSON(w, http.StatusOK, map[string]any{"images": []any{image}, "first": "/v2/images", "schema": "/v2/schemas/images"})
	case path == "/v2/images/"+imageID:
		writeJSON(w, http.StatusOK, image)
	default:
		identityError(w, http.StatusNotFound, "No image found at "+r.URL.Path)
	}
}

// --- services ------------------------------------------------------------

func (c call) serviceView(sv compute.Service, index int) map[string]any {
	m := map[string]any{
		"binary": sv.Binary, "host": sv.Host, "zone": zone, "status": sv.Status, "state": sv.State,
		"updated_at": stampMicro(c.s.now()), "disabled_reason": nullable(sv.DisabledReason),
	}
	if c.mv.atLeast(53) {
		m["id"] = sv.ID
	} else {
		m["id"] = index
	}
	if c.mv.atLeast(11) {
		m["forced_down"] = sv.ForcedDown
	}
	return m
}

// serviceIndex is the integer id services have before 2.53 (fixture order).
func serviceIndex(services []simulated.ServiceState, id string) int {
	for i, sv := range services {
		if strings.EqualFold(sv.ID, id) {
			return i + 1
		}
	}
	return 0
}

func (c call) listServices() {
	q := c.r.URL.Query()
	list, err := c.s.cloud.ListServices(c.r.Context(), q.Get("host"), q.Get("binary"))
	if err != nil {
		c.fail(err)
		return
	}
	services := c.s.cloud.Services()
	out := make([]any, 0, len(list))
	for _, sv := range list {
		out = append(out, c.serviceView(sv, serviceIndex(services, sv.ID)))
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"services": out})
}

func (c call) updateService(id string) {
	body, err := decodeBody(c.w, c.r)
	if err != nil {
		c.fail(err)
		return
	}
	if !c.mv.atLeast(53) {
		c.legacyServiceUpdate(id, body)
		return
	}
	var u compute.ServiceUpdate
	for k, raw := range body {
		switch k {
		case "status":
			var st string
			if json.Unmarshal(raw, &st) != nil {
				c.badRequest("Invalid input for field/attribute status. Value: %s. %s is not of type 'string'", compact(raw), compact(raw))
				return
			}
			u.Status = &st
		case "disabled_reason":
			if json.Unmarshal(raw, &u.DisabledReason) != nil {
				c.badRequest("Invalid input for field/attribute disabled_reason. Value: %s. %s is not of type 'string'", compact(raw), compact(raw))
				return
			}
		case "forced_down":
			var fd bool
			if json.Unmarshal(raw, &fd) != nil {
				c.badRequest("Invalid input for field/attribute forced_down. Value: %s. %s is not of type 'boolean'", compact(raw), compact(raw))
				return
			}
			u.ForcedDown = &fd
		default:
			c.badRequest("Invalid input for field/attribute service. Additional properties are not allowed ('%s' was unexpected)", k)
			return
		}
	}
	sv, err := c.s.cloud.UpdateService(c.r.Context(), id, u)
	if err != nil {
		c.fail(err)
		return
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"service": c.serviceView(sv, 0)})
}

// legacyServiceUpdate serves PUT /os-services/{enable,disable,
// disable-log-reason,force-down} (before 2.53): the service is named by host
// and binary.
func (c call) legacyServiceUpdate(action string, body map[string]json.RawMessage) {
	var host, binary, reason string
	_ = json.Unmarshal(body["host"], &host)
	_ = json.Unmarshal(body["binary"], &binary)
	var u compute.ServiceUpdate
	switch action {
	case "enable":
		st := "enabled"
		u.Status = &st
	case "disable", "disable-log-reason":
		st := "disabled"
		u.Status = &st
		if action == "disable-log-reason" {
			if json.Unmarshal(body["disabled_reason"], &reason) != nil || reason == "" {
				c.badRequest("Missing disabled reason field")
				return
			}
			u.DisabledReason = reason
		}
	case "force-down":
		if !c.mv.atLeast(11) {
			writeFault(c.w, http.StatusNotFound, "The resource could not be found.")
			return
		}
		var fd bool
		if json.Unmarshal(body["forced_down"], &fd) != nil {
			c.badRequest("Invalid input for field/attribute forced_down. Value: %s. %s is not of type 'boolean'", compact(body["forced_down"]), compact(body["forced_down"]))
			return
		}
		u.ForcedDown = &fd
	default:
		writeFault(c.w, http.StatusNotFound, "Unknown action")
		return
	}
	if host == "" || binary == "" {
		c.badRequest("Invalid input: host and binary are required.")
		return
	}
	id := ""
	for _, sv := range c.s.cloud.Services() {
		if sv.Host == host && sv.Binary == binary {
			id = sv.ID
		}
	}
	if id == "" {
		writeFault(c.w, http.StatusNotFound, fmt.Sprintf("Service %s on host %s not found.", binary, host))
		return
	}
	sv, err := c.s.cloud.UpdateService(c.r.Context(), id, u)
	if err != nil {
		c.fail(err)
		return
	}
	out := map[string]any{"host": sv.Host, "binary": sv.Binary}
	if u.ForcedDown != nil {
		out["forced_down"] = sv.ForcedDown
	} else {
		out["status"] = sv.Status
		if reason != "" {
			out["disabled_reason"] = reason
		}
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"service": out})
}

// --- aggregates ----------------------------------------------------------

func (c call) aggregateView(a compute.Aggregate) map[string]any {
	hosts := a.Hosts
	if hosts == nil {
		hosts = []string{}
	}
	m := map[string]any{
		"id": a.ID, "name": a.Name, "hosts": hosts, "metadata": map[string]any{},
		"created_at": stampMicro(c.s.started), "updated_at": nil, "deleted_at": nil, "deleted": false,
		"availability_zone": nil,
	}
	if c.mv.atLeast(41) {
		m["uuid"] = uuidFor("aggregate", strconv.Itoa(a.ID))
	}
	return m
}

func (c call) listAggregates() {
	aggs, err := c.s.cloud.ListAggregates(c.r.Context())
	if err != nil {
		c.fail(err)
		return
	}
	out := make([]any, 0, len(aggs))
	for _, a := range aggs {
		out = append(out, c.aggregateView(a))
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"aggregates": out})
}

func (c call) findAggregate(raw string) (compute.Aggregate, bool) {
	id, err := strconv.Atoi(raw)
	if err != nil {
		c.badRequest("Invalid aggregate id %s.", raw)
		return compute.Aggregate{}, false
	}
	for _, a := range c.s.cloud.Snapshot().Aggregates {
		if a.ID == id {
			return compute.Aggregate{ID: a.ID, Name: a.Name, Hosts: a.Hosts}, true
		}
	}
	writeFault(c.w, http.StatusNotFound, fmt.Sprintf("Aggregate %d could not be found.", id))
	return compute.Aggregate{}, false
}

func (c call) showAggregate(raw string) {
	if a, ok := c.findAggregate(raw); ok {
		writeJSON(c.w, http.StatusOK, map[string]any{"aggregate": c.aggregateView(a)})
	}
}

func (c call) aggregateAction(raw string) {
	body, err := decodeBody(c.w, c.r)
	if err != nil {
		c.fail(err)
		return
	}
	arg, ok := body["add_host"]
	if !ok || len(body) != 1 {
		keys := make([]string, 0, len(body))
		for k := range body {
			keys = append(keys, k)
		}
		c.badRequest("simcloud serves only the add_host aggregate action (got %s)", strings.Join(keys, ", "))
		return
	}
	var ah struct {
		Host string `json:"host"`
	}
	if strictDecode(arg, &ah) != nil || ah.Host == "" {
		c.badRequest("Invalid input for field/attribute add_host. Value: %s. 'host' is a required property", compact(arg))
		return
	}
	id, err := strconv.Atoi(raw)
	if err != nil {
		c.badRequest("Invalid aggregate id %s.", raw)
		return
	}
	if err := c.s.cloud.AddHostToAggregate(c.r.Context(), id, ah.Host); err != nil {
		c.fail(err)
		return
	}
	if a, ok := c.findAggregate(raw); ok {
		writeJSON(c.w, http.StatusOK, map[string]any{"aggregate": c.aggregateView(a)})
	}
}

// --- migrations ----------------------------------------------------------

func (c call) listMigrations() {
	q := c.r.URL.Query()
	if t := q.Get("migration_type"); t != "" && t != "evacuation" {
		writeJSON(c.w, http.StatusOK, map[string]any{"migrations": []any{}})
		return
	}
	snap := c.s.cloud.Snapshot()
	out := []any{}
	for i := len(snap.Migrations) - 1; i >= 0; i-- { // newest first, as Nova
		m := snap.Migrations[i]
		if src := q.Get("source_compute"); src != "" && src != m.Source {
			continue
		}
		if id := q.Get("instance_uuid"); id != "" && !strings.EqualFold(id, m.ServerID) {
			continue
		}
		v := map[string]any{
			"id": m.ID, "source_compute": m.Source, "dest_compute": nullable(m.Dest),
			"source_node": m.Source, "dest_node": nullable(m.Dest), "dest_host": nil,
			"old_instance_type_id": nil, "new_instance_type_id": nil, "instance_uuid": m.ServerID,
			"status": m.Status, "created_at": stampMicro(m.Created), "updated_at": stampMicro(m.Updated),
		}
		if m.Dest != "" {
			v["dest_host"] = "127.0.0.1"
		}
		if c.mv.atLeast(23) {
			v["migration_type"] = "evacuation"
		}
		if c.mv.atLeast(59) {
			v["uuid"] = uuidFor("migration", strconv.Itoa(m.ID))
		}
		if c.mv.atLeast(80) {
			v["user_id"], v["project_id"] = "admin", "admin"
		}
		out = append(out, v)
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"migrations": out})
}

// --- helpers -------------------------------------------------------------

func strictDecode(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func compact(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "None"
	}
	var b strings.Builder
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	out, _ := json.Marshal(v)
	b.Write(out)
	return b.String()
}
