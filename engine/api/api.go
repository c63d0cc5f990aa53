package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/felixge/httpsnoop"
	"github.com/google/uuid"
	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/engine/db"
	"github.com/kaifuku-ha/kaifuku/engine/jsontree"
	"github.com/kaifuku-ha/kaifuku/engine/policy"
)

// Microversions served.
const (
	MinVersion = "1.0"
	MaxVersion = "1.3"
)

var maxMinor = 3

// Store is what the API needs of the database (db.DB implements it).
type Store interface {
	CreateSegment(ctx context.Context, s db.Segment) (db.Segment, error)
	Segment(ctx context.Context, id string) (db.Segment, error)
	Segments(ctx context.Context, f db.SegmentFilter, p db.Page) ([]db.Segment, error)
	UpdateSegment(ctx context.Context, id string, p db.SegmentPatch) (db.Segment, error)
	DeleteSegment(ctx context.Context, id string) error
	CreateHost(ctx context.Context, segmentUUID string, h db.Host) (db.Host, error)
	Host(ctx context.Context, segmentUUID, hostUUID string) (db.Host, error)
	Hosts(ctx context.Context, segmentUUID string, f db.HostFilter, p db.Page) ([]db.Host, error)
	UpdateHost(ctx context.Context, segmentUUID, hostUUID string, p db.HostPatch) (db.Host, error)
	DeleteHost(ctx context.Context, segmentUUID, hostUUID string) error
	CreateNotification(ctx context.Context, n db.NewNotification, window time.Duration) (db.Notification, error)
	Notification(ctx context.Context, id string) (db.Notification, error)
	Notifications(ctx context.Context, f db.NotificationFilter, p db.Page) ([]db.Notification, error)
	FlowRuns(ctx context.Context, id string) ([]db.FlowRun, error)
	ReleaseHeld(ctx context.Context, id, message string) (bool, error)
	VMoves(ctx context.Context, notificationUUID string, f db.VMoveFilter, p db.Page) ([]db.VMove, error)
	VMove(ctx context.Context, id string) (db.VMove, error)
}

// ComputeChecker tells whether name is a nova-compute service host of the
// cloud (Masakari checks it on host create and rename).
type ComputeChecker func(ctx context.Context, name string) (bool, error)

// Settings are the API options that a reload may change.
type Settings struct {
	// AuthStrategy is "token", "keystone" or "noauth". With keystone a
	// refused or unverifiable token gets keystonemiddleware's answers (its
	// 401 with WWW-Authenticate, its 503), otherwise Masakari faults.
	AuthStrategy string
	// Auth checks tokens; when nil, Tokens does.
	Auth Authenticator
	// Tokens maps each accepted X-Auth-Token to its role ("admin" may do
	// everything; other roles are denied by Masakari's admin_api policy).
	Tokens map[string]string
	// WWWAuthenticate is the Keystone URI of keystone's 401s.
	WWWAuthenticate string
	// Policy decides each call; nil is Masakari's default policy.
	Policy *policy.Policy
	// DuplicateWindow is duplicate_notification_detection_interval.
	DuplicateWindow time.Duration
	// MaxBodyBytes bounds request bodies (413 above).
	MaxBodyBytes int64
	// MaxLimit is osapi_max_limit (1000).
	MaxLimit int
}

// Server serves the API.
type Server struct {
	store    Store
	compute  ComputeChecker
	log      *logrus.Logger
	schemas  *schemas
	settings atomic.Pointer[Settings]
	mux      *http.ServeMux
	// Created is called after a notification was committed (wakes workers).
	Created func(db.Notification)
	// Observe is called after every request with its route and status.
	Observe func(route string, code int, d time.Duration)
	// Extra handles paths outside the API (health, metrics, debug); a key
	// ending in "/" handles every path below it.
	Extra map[string]http.Handler
}

// New builds a Server.
func New(store Store, compute ComputeChecker, log *logrus.Logger, s Settings) (*Server, error) {
	sch, err := compileSchemas()
	if err != nil {
		return nil, err
	}
	srv := &Server{store: store, compute: compute, log: log, schemas: sch, Extra: map[string]http.Handler{}}
	srv.SetSettings(s)
	srv.routes()
	return srv, nil
}

// SetSettings replaces the reloadable settings.
func (s *Server) SetSettings(st Settings) {
	if st.MaxLimit <= 0 {
		st.MaxLimit = 1000
	}
	if st.MaxBodyBytes <= 0 {
		st.MaxBodyBytes = 1 << 20
	}
	if st.Auth == nil {
		st.Auth = StaticTokens(st.Tokens)
	}
	if st.Policy == nil {
		st.Policy = policy.Default()
	}
	s.settings.Store(&st)
}

// fault is an error response.
type fault struct {
	code int
	msg  string
}

func (f *fault) Error() string { return f.msg }

func errorf(code int, format string, a ...any) *fault {
	return &fault{code: code, msg: fmt.Sprintf(format, a...)}
}

var faultNames = map[int]string{400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
	405: "badMethod", 409: "conflictingRequest", 413: "overLimit", 429: "overLimit", 415: "badMediaType",
	501: "notImplemented", 503: "serviceUnavailable"}

// request is one API call being served.
type request struct {
	w       http.ResponseWriter
	r       *http.Request
	minor   int // microversion 1.minor
	version string
	status  int
}

type handler func(*request) (int, any, error)

// route registers an API route with its policy rule.
func (s *Server) route(pattern, rule string, h handler) { s.routeSince(0, pattern, rule, h) }

// routeSince registers a route that exists from microversion 1.since on;
// older versions get 404, before the policy is checked.
func (s *Server) routeSince(since int, pattern, rule string, h handler) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.serveAPI(w, r, since, rule, h)
	})
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /{$}", s.versions)
	s.mux.HandleFunc("GET /v1", s.v1)
	s.mux.HandleFunc("GET /v1/{$}", s.v1)
	s.route("GET /v1/segments", "os_masakari_api:segments:index", s.listSegments)
	s.route("POST /v1/segments", "os_masakari_api:segments:create", s.createSegment)
	s.route("GET /v1/segments/{segment_id}", "os_masakari_api:segments:detail", s.showSegment)
	s.route("PUT /v1/segments/{segment_id}", "os_masakari_api:segments:update", s.updateSegment)
	s.route("DELETE /v1/segments/{segment_id}", "os_masakari_api:segments:delete", s.deleteSegment)
	s.route("GET /v1/segments/{segment_id}/hosts", "os_masakari_api:os-hosts:index", s.listHosts)
	s.route("POST /v1/segments/{segment_id}/hosts", "os_masakari_api:os-hosts:create", s.createHost)
	s.route("GET /v1/segments/{segment_id}/hosts/{host_id}", "os_masakari_api:os-hosts:detail", s.showHost)
	s.route("PUT /v1/segments/{segment_id}/hosts/{host_id}", "os_masakari_api:os-hosts:update", s.updateHost)
	s.route("DELETE /v1/segments/{segment_id}/hosts/{host_id}", "os_masakari_api:os-hosts:delete", s.deleteHost)
	s.route("GET /v1/notifications", "os_masakari_api:notifications:index", s.listNotifications)
	s.route("POST /v1/notifications", "os_masakari_api:notifications:create", s.createNotification)
	s.route("GET /v1/notifications/{notification_id}", "os_masakari_api:notifications:detail", s.showNotification)
	s.route("POST /v1/notifications/{notification_id}/release", "kaifuku:notifications:release", s.releaseNotification)
	s.routeSince(3, "GET /v1/notifications/{notification_id}/vmoves", "os_masakari_api:vmoves:index", s.listVMoves)
	s.routeSince(3, "GET /v1/notifications/{notification_id}/vmoves/{vmove_id}", "os_masakari_api:vmoves:detail", s.showVMove)
	notAllowed := func(*request) (int, any, error) {
		return 0, nil, errorf(405, "The method specified is not allowed for this resource.")
	}
	s.route("PUT /v1/notifications/{notification_id}", "", notAllowed)
	s.route("DELETE /v1/notifications/{notification_id}", "", notAllowed)
	s.route("PATCH /v1/notifications/{notification_id}", "", notAllowed)
	s.route("/v1/", "", func(*request) (int, any, error) {
		return 0, nil, errorf(404, "The resource could not be found.")
	})
}

// ServeHTTP serves the API and the extra handlers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := s.Extra[r.URL.Path]; ok {
		h.ServeHTTP(w, r)
		return
	}
	// An Extra path ending in "/" serves everything below it.
	for prefix, h := range s.Extra {
		if strings.HasSuffix(prefix, "/") && strings.HasPrefix(r.URL.Path, prefix) {
			h.ServeHTTP(w, r)
			return
		}
	}
	_, pattern := s.mux.Handler(r)
	m := httpsnoop.CaptureMetrics(s.mux, w, r)
	if pattern == "" {
		pattern = "other"
	}
	if s.Observe != nil {
		s.Observe(pattern, m.Code, m.Duration)
	}
}

func (s *Server) selfURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/v1/"
}

type orderedVersion struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	Version    string `json:"version"`
	MinVersion string `json:"min_version"`
	Updated    string `json:"updated"`
	Links      []link `json:"links"`
	MediaTypes []any  `json:"media-types,omitempty"`
}

type link struct {
	Rel  string `json:"rel"`
	Type string `json:"type,omitempty"`
	Href string `json:"href"`
}

func (s *Server) versions(w http.ResponseWriter, r *http.Request) {
	v := orderedVersion{ID: "v1.0", Status: "CURRENT", Version: MaxVersion, MinVersion: MinVersion,
		Updated: "2016-07-01T11:33:21Z", Links: []link{{Rel: "self", Href: s.selfURL(r)}}}
	writeJSON(w, 200, map[string]any{"versions": []any{v}})
}

func (s *Server) v1(w http.ResponseWriter, r *http.Request) {
	minor, ver, f := parseVersion(r.Header.Get("OpenStack-API-Version"))
	if f != nil {
		s.writeFault(w, ver, f)
		return
	}
	_ = minor
	v := orderedVersion{ID: "v1.0", Status: "CURRENT", Version: MaxVersion, MinVersion: MinVersion,
		Updated:    "2016-07-01T11:33:21Z",
		Links:      []link{{Rel: "self", Href: s.selfURL(r)}, {Rel: "describedby", Type: "text/html", Href: "https://docs.openstack.org/"}},
		MediaTypes: []any{map[string]string{"base": "application/json", "type": "application/vnd.openstack.masakari+json;version=1"}}}
	setVersionHeaders(w, "masakari "+ver)
	writeJSON(w, 200, map[string]any{"version": v})
}

// parseVersion reads the OpenStack-API-Version header: absent means 1.0.
func parseVersion(h string) (int, string, *fault) {
	val := ""
	for _, part := range strings.Split(h, ",") {
		fields := strings.Fields(part)
		if len(fields) == 2 && strings.EqualFold(fields[0], "instance-ha") {
			val = fields[1]
		}
	}
	if val == "" {
		return 0, MinVersion, nil
	}
	if strings.EqualFold(val, "latest") {
		return maxMinor, MaxVersion, nil
	}
	major, minor, ok := strings.Cut(val, ".")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	if !ok || err1 != nil || err2 != nil || ma < 0 || mi < 0 {
		return 0, val, errorf(400, "API Version String %s is of invalid format. Must be of format MajorNum.MinorNum.", val)
	}
	if ma != 1 || mi > maxMinor {
		return 0, val, errorf(406, "Version %s is not supported by the API. Minimum is %s and maximum is %s.", val, MinVersion, MaxVersion)
	}
	return mi, val, nil
}

func setVersionHeaders(w http.ResponseWriter, v string) {
	w.Header().Set("OpenStack-API-Version", v)
	w.Header().Set("Vary", "OpenStack-API-Version")
}

func writeJSON(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	if body == nil {
		w.WriteHeader(code)
		return
	}
	b, err := json.Marshal(body)
	if err != nil {
		code, b = 500, []byte(`{"masakariFault": {"code": 500, "message": "response encoding failed"}}`)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	w.Write(b)
}

func (s *Server) writeFault(w http.ResponseWriter, version string, f *fault) {
	setVersionHeaders(w, "instance-ha "+version)
	name, ok := faultNames[f.code]
	if !ok {
		name = "masakariFault"
	}
	b, _ := json.Marshal(map[string]any{name: map[string]any{"code": f.code, "message": f.msg}})
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(f.code)
	w.Write(b)
}

// serveAPI runs the common pipeline: request id, microversion, auth,
// policy, body limit, the handler, and the response.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, since int, rule string, h handler) {
	w.Header().Set("X-OpenStack-Request-Id", "req-"+uuid.NewString())
	st := s.settings.Load()
	// keystonemiddleware runs before Masakari reads the microversion.
	var creds policy.Credentials
	authed := false
	if st.AuthStrategy == "keystone" {
		var ok bool
		if creds, ok = s.authenticate(w, r, st, MinVersion); !ok {
			return
		}
		authed = true
	}
	minor, ver, f := parseVersion(r.Header.Get("OpenStack-API-Version"))
	if f != nil {
		s.writeFault(w, ver, f)
		return
	}
	if st.AuthStrategy != "noauth" && !authed {
		var ok bool
		if creds, ok = s.authenticate(w, r, st, ver); !ok {
			return
		}
	}
	if minor < since {
		s.writeFault(w, ver, errorf(404, "The resource could not be found."))
		return
	}
	if st.AuthStrategy != "noauth" && !s.authorize(w, st, ver, rule, creds) {
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, st.MaxBodyBytes)
	}
	req := &request{w: w, r: r, minor: minor, version: ver}
	code, body, err := h(req)
	if err != nil {
		s.writeFault(w, ver, s.unexpected(r, w.Header().Get("X-OpenStack-Request-Id"), err))
		return
	}
	setVersionHeaders(w, "masakari "+ver)
	writeJSON(w, code, body)
}

// unexpected is the fault of a handler's error: its own fault, or for a
// failure of the database a 503 (the storage refused the write:
// nothing was stored, retry later) or 500 whose message says what failed
// and where the details are, in Masakari's error body. The error itself is
// logged, not shown: it may name tables and files.
func (s *Server) unexpected(r *http.Request, reqID string, err error) *fault {
	var ft *fault
	if errors.As(err, &ft) {
		return ft
	}
	s.log.WithField("route", r.Pattern).WithField("request_id", reqID).Errorf("%s %s: %v", r.Method, r.URL.Path, err)
	var se *db.StorageError
	if errors.As(err, &se) {
		return errorf(503, "The request was not stored: %s. Nothing was changed; retry once the operator has fixed the database's storage (kaifuku's log has the details under request %s).", se.What, reqID)
	}
	return errorf(500, "Unexpected API Error: the request failed inside kaifuku and may not have been carried out. kaifuku's log has the details under request %s.", reqID)
}

// body reads and decodes the request body (400 "Malformed request body").
func (req *request) body() (*jsontree.Node, error) {
	data, err := io.ReadAll(req.r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(413, "Request is too large.")
		}
		return nil, errorf(400, "Malformed request body")
	}
	n, err := decodeBody(data)
	if err != nil {
		return nil, errorf(400, "Malformed request body")
	}
	return n, nil
}

// Protect wraps a handler outside the API (the debug endpoint) with the
// API's authentication: 401 without a valid token, 403 without role admin.
func (s *Server) Protect(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := s.settings.Load()
		if st.AuthStrategy != "noauth" {
			creds, ok := s.authenticate(w, r, st, MinVersion)
			if !ok || !s.authorize(w, st, MinVersion, "kaifuku:debug", creds) {
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}
