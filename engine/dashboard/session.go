package dashboard

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// The operator's token lives in this cookie: HttpOnly (no script reads
// it), SameSite=Strict (no other site's page sends it), limited to the
// dashboard's paths and, behind TLS, Secure. It never appears in a URL.
const cookieName = "kaifuku_token"

// session is one request of an operator: the token the API is called
// with (empty without a login: the API then decides, as under noauth) and
// the CSRF token its forms carry.
type session struct {
	d     *Dashboard
	w     http.ResponseWriter
	r     *http.Request
	token string
	csrf  string
}

func (d *Dashboard) session(w http.ResponseWriter, r *http.Request) *session {
	s := &session{d: d, w: w, r: r}
	if c, err := r.Cookie(cookieName); err == nil {
		if b, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil {
			s.token = string(b)
		}
	}
	s.csrf = d.csrfToken(s.token)
	return s
}

// csrfToken is the per-session token of the forms: an HMAC of the
// session's API token under the dashboard's secret, so that a page of
// another origin can neither read nor compute it.
func (d *Dashboard) csrfToken(token string) string {
	m := hmac.New(sha256.New, d.opt.Secret)
	m.Write([]byte("kaifuku dashboard csrf\x00"))
	m.Write([]byte(token))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (d *Dashboard) setCookie(w http.ResponseWriter, r *http.Request, token string) {
	c := &http.Cookie{Name: cookieName, Value: base64.RawURLEncoding.EncodeToString([]byte(token)), Path: Prefix,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil}
	if token == "" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// sameOrigin refuses a form posted from another origin when the browser
// says where it comes from (a second line behind the CSRF token).
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// apiError is a refusal of the API: its status and fault message.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.code, e.msg) }

// responseBuffer is the in-process response of the API.
type responseBuffer struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *responseBuffer) Header() http.Header { return b.header }
func (b *responseBuffer) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *responseBuffer) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

// call sends one API request in-process with the session's token, at the
// microversion given, and decodes a 2xx answer into out. Anything else is
// an *apiError with the API's own message.
func (s *session) call(method, path, version string, body, out any) error {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(s.r.Context(), method, path, rd)
	if err != nil {
		return err
	}
	req.Host = s.r.Host
	req.RemoteAddr = s.r.RemoteAddr
	req.TLS = s.r.TLS
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OpenStack-API-Version", "instance-ha "+version)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.token != "" {
		req.Header.Set("X-Auth-Token", s.token)
	}
	resp := &responseBuffer{header: http.Header{}}
	s.d.opt.API.ServeHTTP(resp, req)
	if resp.code == 0 {
		resp.code = http.StatusOK
	}
	if resp.code < 200 || resp.code > 299 {
		return &apiError{code: resp.code, msg: faultMessage(resp.body.Bytes(), resp.code)}
	}
	if out == nil || resp.code == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(resp.body.Bytes(), out); err != nil {
		return fmt.Errorf("%s %s: decoding the API's answer: %w", method, path, err)
	}
	return nil
}

// faultMessage reads the message of a Masakari fault body
// ({"itemNotFound": {"code": 404, "message": "..."}}).
func faultMessage(body []byte, code int) string {
	var f map[string]struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &f) == nil {
		for _, v := range f {
			if v.Message != "" {
				return v.Message
			}
		}
	}
	if t := strings.TrimSpace(string(body)); t != "" && len(t) < 500 {
		return t
	}
	return http.StatusText(code)
}

// loginPage shows the login form.
func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, http.StatusOK, "login", view{Title: "Log in", Data: loginData{}})
}

type loginData struct {
	Error string
}

// login checks the token by asking the API for a segment with it, as any
// API client would, and keeps it in the cookie only when the API takes it.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		d.fail(w, r, http.StatusForbidden, "The login form was posted from another site.")
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	refuse := func(code int, msg string) {
		d.render(w, r, code, "login", view{Title: "Log in", Data: loginData{Error: msg}})
	}
	if token == "" {
		refuse(http.StatusBadRequest, "Enter a token.")
		return
	}
	s := &session{d: d, w: w, r: r, token: token}
	err := s.call(http.MethodGet, "/v1/segments?limit=1", "1.0", nil, nil)
	if ae, ok := err.(*apiError); ok && (ae.code == http.StatusUnauthorized || ae.code == http.StatusForbidden) {
		msg := "The API refused this token."
		if ae.code == http.StatusForbidden {
			msg = "This token may not manage the cloud's high availability (the API requires the admin role): " + ae.msg
		}
		refuse(http.StatusForbidden, msg)
		return
	}
	if err != nil {
		d.serverError(w, r, err)
		return
	}
	d.setCookie(w, r, token)
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (d *Dashboard) logout(s *session) (*actionSpec, error) {
	return &actionSpec{NoConfirm: true, Do: func() error {
		d.setCookie(s.w, s.r, "")
		return nil
	}, Done: Prefix + "login"}, nil
}
