package dashboard

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// view is what the layout of every page gets.
type view struct {
	Title string
	// Nav names the menu entry of the page ("notifications", "segments",
	// "flows").
	Nav string
	// CSRF is the session's form token (empty on the login page).
	CSRF string
	// LoggedIn shows the log-out button.
	LoggedIn bool
	// Live makes the page reload its content every few seconds (something
	// on it is still running).
	Live bool
	// Flash is a note on the action just done.
	Flash string
	Data  any
}

var pageNames = []string{"login", "error", "confirm", "notifications", "notification", "segments", "flows"}

func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{
		"lower": strings.ToLower,
		"pct":   func(f float64) string { return fmtFloat(f*100) + "%" },
	}
	out := map[string]*template.Template{}
	for _, n := range pageNames {
		out[n] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+n+".html"))
	}
	return out
}

// render writes a page; a template failure is a 500 written before any of
// the page.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, code int, name string, v view) {
	var b bytes.Buffer
	if err := d.pages[name].Execute(&b, v); err != nil {
		d.opt.Log.WithField("page", name).Errorf("dashboard %s %s: %v", r.Method, r.URL.Path, err)
		http.Error(w, "the dashboard could not render this page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

type errorData struct {
	Code    int
	Status  string
	Message string
}

// fail shows an error page with the status code.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	s := d.session(w, r)
	nav := ""
	if s.token != "" {
		nav = "error"
	}
	d.render(w, r, code, "error", view{Title: http.StatusText(code), Nav: nav, CSRF: s.csrf, LoggedIn: s.token != "",
		Data: errorData{Code: code, Status: http.StatusText(code), Message: msg}})
}

func (d *Dashboard) serverError(w http.ResponseWriter, r *http.Request, err error) {
	d.opt.Log.Errorf("dashboard %s %s: %v", r.Method, r.URL.Path, err)
	d.fail(w, r, http.StatusInternalServerError, "The dashboard could not serve this page; the daemon's log says why.")
}

// apiFailure answers an error of a page or an action: a token the API
// refuses leads back to the login form, the API's other refusals are
// shown with its status and message.
func (d *Dashboard) apiFailure(s *session, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		d.serverError(s.w, s.r, err)
		return
	}
	if ae.code == http.StatusUnauthorized {
		if s.token != "" {
			d.setCookie(s.w, s.r, "")
		}
		http.Redirect(s.w, s.r, Prefix+"login", http.StatusSeeOther)
		return
	}
	d.fail(s.w, s.r, ae.code, ae.msg)
}

// page serves a GET page: fn reads what it shows through the API and
// returns the template and its view.
func (d *Dashboard) page(fn func(*session) (string, view, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := d.session(w, r)
		name, v, err := fn(s)
		if err != nil {
			d.apiFailure(s, err)
			return
		}
		v.CSRF, v.LoggedIn = s.csrf, s.token != ""
		if msg, ok := flashes[r.URL.Query().Get("done")]; ok {
			v.Flash = msg
		}
		d.render(w, r, http.StatusOK, name, v)
	}
}

// flashes are the notes an action's redirect can ask for (a fixed list: a
// link cannot make the page say anything else).
var flashes = map[string]string{
	"maintenance-off":  "The host is off maintenance.",
	"maintenance-on":   "The host is on maintenance.",
	"reserved-on":      "The host is marked reserved.",
	"reserved-off":     "The host is no longer reserved.",
	"segment-enabled":  "The segment is enabled.",
	"segment-disabled": "The segment is disabled.",
}

// actionSpec is an action a form asks for: the question its confirmation
// page asks, what it does, and where the browser goes after it.
type actionSpec struct {
	Question  string
	Detail    string
	Button    string
	NoConfirm bool
	Do        func() error
	Done      string
	// Back is where Cancel leads.
	Back string
}

type confirmData struct {
	Question string
	Detail   string
	Button   string
	Action   string
	Fields   []field
	Back     string
}

type field struct{ Name, Value string }

// action serves a POST: it refuses a form without the session's CSRF
// token (403), asks for confirmation unless the form carries confirm=yes,
// then does it and redirects.
func (d *Dashboard) action(fn func(*session) (*actionSpec, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := d.session(w, r)
		if !sameOrigin(r) || !validCSRF(r.PostFormValue("csrf"), s.csrf) {
			d.fail(w, r, http.StatusForbidden, "This form is out of date or was not sent by the dashboard: reload the page and try again.")
			return
		}
		spec, err := fn(s)
		if err != nil {
			d.apiFailure(s, err)
			return
		}
		if !spec.NoConfirm && r.PostFormValue("confirm") != "yes" {
			data := confirmData{Question: spec.Question, Detail: spec.Detail, Button: spec.Button, Action: r.URL.Path, Back: spec.Back}
			for k, vs := range r.PostForm {
				if k != "csrf" && k != "confirm" && len(vs) > 0 {
					data.Fields = append(data.Fields, field{k, vs[0]})
				}
			}
			d.render(w, r, http.StatusOK, "confirm", view{Title: "Confirm", Nav: "segments", CSRF: s.csrf, LoggedIn: s.token != "", Data: data})
			return
		}
		if err := spec.Do(); err != nil {
			d.apiFailure(s, err)
			return
		}
		http.Redirect(w, r, spec.Done, http.StatusSeeOther)
	}
}

func validCSRF(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// pathEscape escapes one path segment of an API URL.
func pathEscape(s string) string { return url.PathEscape(s) }
