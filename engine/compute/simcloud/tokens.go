package simcloud

import (
	"sync"
	"time"
)

type token struct {
	id, user, project string
	issued            time.Time
}

// tokenStore holds the tokens simcloud's Keystone issued, plus the static
// tokens the compute API accepts without a login.
type tokenStore struct {
	mu     sync.Mutex
	issued map[string]token
	static map[string]bool
}

func newTokenStore(static []string) *tokenStore {
	ts := &tokenStore{issued: map[string]token{}, static: map[string]bool{}}
	for _, s := range static {
		if s != "" {
			ts.static[s] = true
		}
	}
	return ts
}

func (ts *tokenStore) issue(user, project string, now time.Time) token {
	t := token{id: "gAAAA" + randomHex(32), user: user, project: project, issued: now}
	ts.mu.Lock()
	ts.issued[t.id] = t
	ts.mu.Unlock()
	return t
}

func (ts *tokenStore) lookup(id string) (token, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.issued[id]
	return t, ok
}

// valid reports whether the compute API accepts id.
func (ts *tokenStore) valid(id string) bool {
	if id == "" {
		return false
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	_, ok := ts.issued[id]
	return ok || ts.static[id]
}

// revoke forgets every issued token (static tokens stay valid) and returns
// how many there were: clients must log in again.
func (ts *tokenStore) revoke() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	n := len(ts.issued)
	ts.issued = map[string]token{}
	return n
}
