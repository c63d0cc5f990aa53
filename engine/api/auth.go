package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"

	"github.com/kaifuku-ha/kaifuku/engine/policy"
)

// Authenticator tells who holds an X-Auth-Token.
type Authenticator interface {
	// Authenticate returns the caller's credentials, an error wrapping
	// ErrUnauthenticated for a token it refuses, or one wrapping
	// ErrAuthUnavailable when it cannot decide now (Keystone down).
	Authenticate(ctx context.Context, token string) (policy.Credentials, error)
}

// The errors of an Authenticator.
var (
	ErrUnauthenticated = errors.New("the request you have made requires authentication")
	ErrAuthUnavailable = errors.New("the identity service is unavailable")
)

// StaticTokens is the token file: each token maps to its one role.
type StaticTokens map[string]string

// Authenticate compares token with every configured one in constant time.
func (t StaticTokens) Authenticate(_ context.Context, token string) (policy.Credentials, error) {
	role, ok := lookupToken(t, token)
	if !ok {
		return policy.Credentials{}, ErrUnauthenticated
	}
	return policy.Credentials{UserID: "token-file", Roles: []string{role}}, nil
}

// FirstOf tries each authenticator in turn: the first to accept the token
// wins; when none does, the last one's error stands.
type FirstOf []Authenticator

// Authenticate implements Authenticator.
func (f FirstOf) Authenticate(ctx context.Context, token string) (policy.Credentials, error) {
	err := ErrUnauthenticated
	for _, a := range f {
		var c policy.Credentials
		if c, err = a.Authenticate(ctx, token); err == nil {
			return c, nil
		}
	}
	return policy.Credentials{}, err
}

// lookupToken compares token with every configured one in constant time.
func lookupToken(tokens map[string]string, token string) (string, bool) {
	if token == "" {
		return "", false
	}
	role, found := "", false
	for t, r := range tokens {
		if subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			role, found = r, true
		}
	}
	return role, found
}

// The answers of keystonemiddleware, which rejects a request before
// Masakari sees it: its own JSON bodies, no microversion headers.
const (
	keystone401 = `{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}`
	keystone503 = `{"message": "The server is currently unavailable. Please try again at a later time.<br /><br />\nThe Keystone service is temporarily unavailable.\n\n", "code": "503 Service Unavailable", "title": "Service Unavailable"}`
)

func writeRaw(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write([]byte(body))
}

// authenticate checks the request's token under st; on failure it has
// written the answer and ok is false. version is the microversion for
// faults in Masakari's format.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, st *Settings, version string) (policy.Credentials, bool) {
	c, err := st.Auth.Authenticate(r.Context(), r.Header.Get("X-Auth-Token"))
	if err == nil {
		return c, true
	}
	keystone := st.AuthStrategy == "keystone"
	switch {
	case errors.Is(err, ErrAuthUnavailable):
		s.log.Errorf("Unable to validate token: %v", err)
		if keystone {
			writeRaw(w, http.StatusServiceUnavailable, keystone503)
		} else {
			s.writeFault(w, version, errorf(503, "The identity service is temporarily unavailable."))
		}
	case errors.Is(err, ErrUnauthenticated):
		if keystone {
			w.Header().Set("WWW-Authenticate", `Keystone uri="`+st.WWWAuthenticate+`"`)
			writeRaw(w, http.StatusUnauthorized, keystone401)
		} else {
			s.writeFault(w, version, errorf(401, "The request you have made requires authentication."))
		}
	default:
		s.log.Errorf("authentication: %v", err)
		s.writeFault(w, version, errorf(500, "Unexpected API Error."))
	}
	return policy.Credentials{}, false
}

// authorize checks rule for c; on denial it has written Masakari's 403.
func (s *Server) authorize(w http.ResponseWriter, st *Settings, version, rule string, c policy.Credentials) bool {
	if rule == "" || st.Policy.Enforce(rule, c, nil) {
		return true
	}
	s.writeFault(w, version, errorf(403, "Policy doesn't allow %s to be performed.", rule))
	return false
}
