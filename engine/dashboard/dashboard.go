// Package dashboard is the operator's web page of kaifuku serve: the
// segments and their hosts, the notifications with a timeline of their
// recovery, the loaded flows, and the few actions an operator takes during
// an incident. It holds no data and no rules of its own: every read and
// every action is a request to the Masakari API, served in-process with the
// operator's token, so the API's authentication, policy and validation
// apply unchanged.
package dashboard

import (
	"crypto/rand"
	"embed"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
)

// Prefix is the path the dashboard is served under.
const Prefix = "/dashboard/"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options compose a dashboard.
type Options struct {
	// API serves the Masakari API; the dashboard sends it every read and
	// every action with the operator's token as X-Auth-Token.
	API http.Handler
	// Flows returns the flows in force (nil: the flows page says none are
	// loaded).
	Flows func() map[conf.FlowKind]*engine.Flow
	Log   *logrus.Logger
	// Secret keys the CSRF tokens; nil draws a random one, so that a restart
	// asks the open pages to reload before an action.
	Secret []byte
	// Now is the clock of the timelines (time.Now when nil).
	Now func() time.Time
}

// Dashboard serves the pages under Prefix.
type Dashboard struct {
	opt   Options
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New builds a dashboard.
func New(opt Options) *Dashboard {
	if opt.Secret == nil {
		opt.Secret = make([]byte, 32)
		rand.Read(opt.Secret)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = logrus.New()
	}
	d := &Dashboard{opt: opt, pages: parsePages()}
	d.routes()
	return d
}

func (d *Dashboard) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET "+Prefix+"static/", http.StripPrefix(Prefix+"static/", cacheStatic(http.FileServerFS(static))))
	m.HandleFunc("GET "+Prefix+"login", d.loginPage)
	m.HandleFunc("POST "+Prefix+"login", d.login)
	m.HandleFunc("POST "+Prefix+"logout", d.action(d.logout))
	m.HandleFunc("GET "+Prefix+"{$}", d.page(d.notifications))
	m.HandleFunc("GET "+Prefix+"notifications/{id}", d.page(d.notification))
	m.HandleFunc("GET "+Prefix+"segments", d.page(d.segments))
	m.HandleFunc("GET "+Prefix+"flows", d.page(d.flows))
	m.HandleFunc("POST "+Prefix+"segments/{sid}/enabled", d.action(d.setSegmentEnabled))
	m.HandleFunc("POST "+Prefix+"segments/{sid}/hosts/{hid}/maintenance", d.action(d.setHostFlag(maintenanceFlag)))
	m.HandleFunc("POST "+Prefix+"segments/{sid}/hosts/{hid}/reserved", d.action(d.setHostFlag(reservedFlag)))
	m.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		d.fail(w, r, http.StatusNotFound, "There is no such page.")
	})
	d.mux = m
}

// ServeHTTP serves the dashboard's paths.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// The pages load nothing from elsewhere and may not be framed; inline
	// styles place the timeline's bars.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	d.mux.ServeHTTP(w, r)
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// Root sends a browser asking for / to the dashboard and every other
// request to next: API clients keep getting the API's versions document
// at /.
func Root(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			switch {
			case r.URL.Path == "/" && PrefersHTML(r.Header.Get("Accept")):
				http.Redirect(w, r, Prefix, http.StatusFound)
				return
			case r.URL.Path == strings.TrimSuffix(Prefix, "/"):
				http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// PrefersHTML reports whether an Accept header ranks text/html above
// application/json, as a browser's does; no header, */* alone or a JSON
// client's header do not.
func PrefersHTML(accept string) bool {
	html, json := acceptQ(accept, "text", "html"), acceptQ(accept, "application", "json")
	return html > 0 && html > json
}

// acceptQ is the quality an Accept header gives to type/sub: the most
// specific range that matches it wins.
func acceptQ(accept, typ, sub string) float64 {
	best, q := -1, 0.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		t, s, _ := strings.Cut(mt, "/")
		spec := -1
		switch {
		case t == typ && s == sub:
			spec = 2
		case t == typ && s == "*":
			spec = 1
		case t == "*" && s == "*":
			spec = 0
		}
		if spec <= best {
			continue
		}
		v := 1.0
		if qs, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(qs, 64); err == nil && f >= 0 && f <= 1 {
				v = f
			}
		}
		best, q = spec, v
	}
	return q
}
