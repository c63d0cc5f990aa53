package simcloud

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Region is the only region of simcloud's catalog.
const Region = "RegionOne"

var defaultDomain = map[string]any{"id": "default", "name": "Default"}

func (s *Server) identityVersion(base string) map[string]any {
	return map[string]any{
		"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
		"links":       []any{map[string]any{"rel": "self", "href": base + "/v3/"}},
		"media-types": []any{map[string]any{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}},
	}
}

func (s *Server) catalog(base string) []any {
	ep := func(svc, url string) []any {
		var out []any
		for _, iface := range []string{"public", "internal", "admin"} {
			out = append(out, map[string]any{
				"id": svc + "-" + iface, "interface": iface, "region": Region, "region_id": Region, "url": url,
			})
		}
		return out
	}
	return []any{
		map[string]any{"id": "identity", "type": "identity", "name": "keystone", "endpoints": ep("identity", base+"/v3")},
		map[string]any{"id": "compute", "type": "compute", "name": "nova", "endpoints": ep("compute", base+"/v2.1")},
		// one read-only image, for clients that look image names up
		map[string]any{"id": "image", "type": "image", "name": "glance", "endpoints": ep("image", base+"/image")},
	}
}

// handleIdentity serves /v3 and below: version discovery and token issue and
// validation. It accepts every user unless a password was configured.
func (s *Server) handleIdentity(w http.ResponseWriter, r *http.Request) {
	base := baseURL(r)
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/v3" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		writeJSON(w, http.StatusOK, map[string]any{"version": s.identityVersion(base)})
	case path == "/v3/auth/tokens" && r.Method == http.MethodPost:
		s.issueToken(w, r, base)
	case path == "/v3/auth/tokens" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		tok := r.Header.Get("X-Subject-Token")
		t, ok := s.tokens.lookup(tok)
		if !ok || !s.tokens.valid(r.Header.Get("X-Auth-Token")) {
			identityError(w, http.StatusNotFound, "Could not find token.")
			return
		}
		w.Header().Set("X-Subject-Token", tok)
		writeJSON(w, http.StatusOK, s.tokenBody(t, base))
	case path == "/v3/auth/catalog" && r.Method == http.MethodGet:
		if !s.tokens.valid(r.Header.Get("X-Auth-Token")) {
			identityError(w, http.StatusUnauthorized, "The request you have made requires authentication.")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"catalog": s.catalog(base)})
	default:
		identityError(w, http.StatusNotFound, "simcloud's keystone has no "+r.Method+" "+r.URL.Path)
	}
}

func identityError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]any{"code": code, "title": http.StatusText(code), "message": msg}})
}

type authRequest struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password struct {
				User struct {
					ID       string         `json:"id"`
					Name     string         `json:"name"`
					Password string         `json:"password"`
					Domain   map[string]any `json:"domain"`
				} `json:"user"`
			} `json:"password"`
			Token struct {
				ID string `json:"id"`
			} `json:"token"`
		} `json:"identity"`
		Scope struct {
			Project struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"project"`
		} `json:"scope"`
	} `json:"auth"`
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, base string) {
	var req authRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		identityError(w, http.StatusBadRequest, "malformed JSON body: "+err.Error())
		return
	}
	id := req.Auth.Identity
	var user string
	switch {
	case contains(id.Methods, "password"):
		user = id.Password.User.Name
		if user == "" {
			user = id.Password.User.ID
		}
		if user == "" {
			identityError(w, http.StatusBadRequest, "password auth needs a user name or id")
			return
		}
		if s.opts.Password != "" && id.Password.User.Password != s.opts.Password {
			identityError(w, http.StatusUnauthorized, "The request you have made requires authentication.")
			return
		}
	case contains(id.Methods, "token"):
		t, ok := s.tokens.lookup(id.Token.ID)
		if !ok {
			identityError(w, http.StatusUnauthorized, "The request you have made requires authentication.")
			return
		}
		user = t.user
	default:
		identityError(w, http.StatusBadRequest, "identity methods must include password or token")
		return
	}
	project := req.Auth.Scope.Project.Name
	if project == "" {
		project = req.Auth.Scope.Project.ID
	}
	if project == "" {
		project = user
	}
	t := s.tokens.issue(user, project, s.now())
	w.Header().Set("X-Subject-Token", t.id)
	writeJSON(w, http.StatusCreated, s.tokenBody(t, base))
}

func (s *Server) tokenBody(t token, base string) map[string]any {
	roles := []any{map[string]any{"id": "member", "name": "member"}, map[string]any{"id": "reader", "name": "reader"}}
	roles = append([]any{map[string]any{"id": "admin", "name": "admin"}}, roles...)
	return map[string]any{"token": map[string]any{
		"methods":    []string{"password"},
		"audit_ids":  []string{t.id[:22]},
		"issued_at":  t.issued.UTC().Format("2006-01-02T15:04:05.000000Z"),
		"expires_at": t.issued.Add(24 * time.Hour).UTC().Format("2006-01-02T15:04:05.000000Z"),
		"user":       map[string]any{"id": t.user, "name": t.user, "domain": defaultDomain, "password_expires_at": nil},
		"project":    map[string]any{"id": t.project, "name": t.project, "domain": defaultDomain},
		"is_domain":  false,
		"roles":      roles,
		"catalog":    s.catalog(base),
	}}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand crashes the program instead)
	return hex.EncodeToString(b)
}
