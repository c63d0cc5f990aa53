package simcloud

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	fastjson "github.com/goccy/go-json"
)

// Microversions simcloud accepts, as the Nova it imitates (Zed).
const (
	MinMicroversion = "2.1"
	MaxMicroversion = "2.93"
)

type microversion struct{ major, minor int }

func (v microversion) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

// atLeast reports whether v >= 2.minor.
func (v microversion) atLeast(minor int) bool { return v.major > 2 || v.minor >= minor }

func parseMicroversion(s string) (microversion, bool) {
	maj, min, ok := strings.Cut(strings.TrimSpace(s), ".")
	if !ok {
		return microversion{}, false
	}
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if err1 != nil || err2 != nil || a < 0 || b < 0 {
		return microversion{}, false
	}
	return microversion{a, b}, true
}

var (
	minVersion, _ = parseMicroversion(MinMicroversion)
	maxVersion, _ = parseMicroversion(MaxMicroversion)
)

// requestedMicroversion reads OpenStack-API-Version ("compute 2.53") or the
// legacy X-OpenStack-Nova-API-Version header, as Nova does; none means 2.1.
func requestedMicroversion(r *http.Request) (microversion, error) {
	raw := ""
	for _, h := range r.Header.Values("OpenStack-API-Version") {
		for _, part := range strings.Split(h, ",") {
			f := strings.Fields(part)
			if len(f) == 2 && strings.EqualFold(f[0], "compute") {
				raw = f[1]
			}
		}
	}
	if raw == "" {
		raw = r.Header.Get("X-OpenStack-Nova-API-Version")
	}
	if raw == "" {
		return minVersion, nil
	}
	if strings.EqualFold(raw, "latest") {
		return maxVersion, nil
	}
	v, ok := parseMicroversion(raw)
	if !ok {
		return microversion{}, &httpError{http.StatusBadRequest, fmt.Sprintf("API Version String %s is of invalid format. Must be of format MajorNum.MinorNum.", raw)}
	}
	if less(v, minVersion) || less(maxVersion, v) {
		return microversion{}, &httpError{http.StatusNotAcceptable, fmt.Sprintf("Version %s is not supported by the API. Minimum is %s and maximum is %s.", v, MinMicroversion, MaxMicroversion)}
	}
	return v, nil
}

func less(a, b microversion) bool {
	return a.major < b.major || (a.major == b.major && a.minor < b.minor)
}

// httpError is an error answer simcloud produces itself.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

// Nova's fault names by status code (nova/api/openstack/wsgi.py Fault).
func faultName(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "badRequest"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "itemNotFound"
	case http.StatusMethodNotAllowed:
		return "badMethod"
	case http.StatusNotAcceptable:
		return "notAcceptable"
	case http.StatusConflict:
		return "conflictingRequest"
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return "overLimit"
	case http.StatusUnsupportedMediaType:
		return "badMediaType"
	case http.StatusNotImplemented:
		return "notImplemented"
	case http.StatusServiceUnavailable:
		return "serviceUnavailable"
	}
	return "computeFault"
}

// writeFault writes Nova's error body {"<fault>": {"code": c, "message": m}}.
func writeFault(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{faultName(code): map[string]any{"code": code, "message": msg}})
}

// writeJSON answers body, encoded as encoding/json does (map keys sorted,
// HTML characters escaped) by goccy/go-json, which is several times faster on
// server lists.
func writeJSON(w http.ResponseWriter, code int, body any) {
	b, err := fastjson.Marshal(body)
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"computeFault": {"code": 500, "message": "simcloud could not encode its answer"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// writeEmpty answers an action: no body, as Nova (Content-Length 0).
func writeEmpty(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(code)
}

// baseURL is the scheme://host the client used, for links and the catalog.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// decodeBody reads a JSON object body of at most 1 MiB.
func decodeBody(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(&m); err != nil {
		return nil, &httpError{http.StatusBadRequest, "Malformed request body: " + err.Error()}
	}
	if m == nil {
		return nil, &httpError{http.StatusBadRequest, "Malformed request body: expected a JSON object"}
	}
	return m, nil
}

func asHTTPError(err error) (*httpError, bool) {
	var he *httpError
	if errors.As(err, &he) {
		return he, true
	}
	return nil, false
}
