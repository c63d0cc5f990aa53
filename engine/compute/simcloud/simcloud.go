package simcloud

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/felixge/httpsnoop"
	"github.com/google/uuid"
	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

// Options configures a Server.
type Options struct {
	// Password, when set, is the only password Keystone accepts (for any
	// user); empty accepts every password.
	Password string
	// Tokens are static tokens the compute API accepts without a login, as
	// Nova's noauth2 accepts "admin:admin".
	Tokens []string
	// MaxLimit is Nova's [api] max_limit: the longest page of servers
	// (default 1000); fuller lists are paginated with "servers_links".
	MaxLimit int
	// Clock gives the times shown in responses (default the wall clock).
	Clock clock.Clock
	Log   *logrus.Entry
}

// Server is the HTTP face of a simulated cloud. It is an http.Handler.
type Server struct {
	cloud   *simulated.Cloud
	opts    Options
	tokens  *tokenStore
	log     *logrus.Entry
	started time.Time

	mu           sync.Mutex
	lockedReason map[string]string // server id -> locked_reason (2.73)
	requests     map[string]int    // "METHOD route" -> count
}

// New returns a server for cloud.
func New(cloud *simulated.Cloud, opts Options) *Server {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.MaxLimit <= 0 {
		opts.MaxLimit = 1000
	}
	log := opts.Log
	if log == nil {
		l := logrus.New()
		l.SetLevel(logrus.PanicLevel)
		log = logrus.NewEntry(l)
	}
	return &Server{
		cloud: cloud, opts: opts, tokens: newTokenStore(opts.Tokens), log: log,
		started: opts.Clock.Now(), lockedReason: map[string]string{}, requests: map[string]int{},
	}
}

func (s *Server) now() time.Time { return s.opts.Clock.Now() }

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Openstack-Request-Id", "req-"+uuid.NewString())
	m := httpsnoop.CaptureMetricsFn(w, func(rw http.ResponseWriter) { s.route(rw, r) })
	s.log.WithFields(logrus.Fields{"method": r.Method, "path": r.URL.RequestURI(), "status": m.Code,
		"duration": m.Duration.Round(time.Microsecond).String()}).Debug("request")
}

// route answers r, or a fault when a handler panics.
func (s *Server) route(rw http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			s.log.WithField("panic", v).Error("simcloud handler panicked")
			writeFault(rw, http.StatusInternalServerError, "Unexpected API Error.")
		}
	}()
	p := r.URL.Path
	switch {
	case p == "/" || p == "":
		s.count(r, "/")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeFault(rw, http.StatusMethodNotAllowed, "The method is not allowed for this resource.")
			return
		}
		writeJSON(rw, http.StatusOK, map[string]any{"versions": []any{
			s.computeVersion(r, "v2.0"), s.computeVersion(r, "v2.1"),
		}})
	case p == "/v3" || strings.HasPrefix(p, "/v3/"):
		s.count(r, p)
		s.handleIdentity(rw, r)
	case p == "/image" || strings.HasPrefix(p, "/image/"):
		s.count(r, p)
		s.handleImage(rw, r, strings.TrimSuffix(strings.TrimPrefix(p, "/image"), "/"))
	case p == "/sim" || strings.HasPrefix(p, "/sim/"):
		s.handleSim(rw, r)
	case p == "/v2.1" || strings.HasPrefix(p, "/v2.1/"):
		s.handleCompute(rw, r, strings.TrimPrefix(p, "/v2.1"))
	default:
		writeFault(rw, http.StatusNotFound, "The resource could not be found.")
	}
}

func (s *Server) count(r *http.Request, route string) {
	s.mu.Lock()
	s.requests[r.Method+" "+route]++
	s.mu.Unlock()
}

func (s *Server) computeVersion(r *http.Request, id string) map[string]any {
	v := map[string]any{
		"id": id, "status": "SUPPORTED", "version": "", "min_version": "", "updated": "2011-01-21T11:33:21Z",
		"links": []any{map[string]any{"rel": "self", "href": baseURL(r) + "/" + strings.Replace(id, "v2.0", "v2", 1) + "/"}},
	}
	if id == "v2.1" {
		v["status"], v["version"], v["min_version"], v["updated"] = "CURRENT", MaxMicroversion, MinMicroversion, "2013-07-23T11:33:21Z"
		v["links"] = []any{
			map[string]any{"rel": "self", "href": baseURL(r) + "/v2.1/"},
			map[string]any{"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"},
		}
		v["media-types"] = []any{map[string]any{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}}
	}
	return v
}

// writeError answers err as Nova would: a simulated.APIError carries the
// code and message; other errors of the cloud are compute error kinds.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	var ae *simulated.APIError
	if errors.As(err, &ae) {
		writeFault(w, ae.Code, ae.Message)
		return
	}
	if he, ok := asHTTPError(err); ok {
		writeFault(w, he.code, he.msg)
		return
	}
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, compute.ErrInvalid):
		code = http.StatusBadRequest
	case errors.Is(err, compute.ErrForbidden):
		code = http.StatusForbidden
	case errors.Is(err, compute.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, compute.ErrConflict):
		code = http.StatusConflict
	case errors.Is(err, compute.ErrUnavailable):
		code = http.StatusServiceUnavailable
	}
	writeFault(w, code, err.Error())
}
