package script

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

const (
	defaultHTTPTimeout = 30 * time.Second
	maxRedirects       = 5
)

// newHTTPClient is the real client behind the http module: bounded dial and
// TLS handshake, and redirects only within the same host (the allow-list
// was checked for that host).
func newHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr, CheckRedirect: checkRedirect}
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	from := via[0].URL
	if !strings.EqualFold(req.URL.Host, from.Host) || req.URL.Scheme != from.Scheme && !(from.Scheme == "http" && req.URL.Scheme == "https") {
		return fmt.Errorf("redirect from %s to %s refused: redirects to another host are not followed", from.Host, req.URL.Host)
	}
	return nil
}

// hostAllowed reports whether u's host is in the allow-list: an entry
// without a port allows the host on any port, "host:port" only that port.
func hostAllowed(u *url.URL, allowed []string) bool {
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	for _, a := range allowed {
		if h, p, err := net.SplitHostPort(a); err == nil {
			if strings.Trim(h, "[]") == host && p == port {
				return true
			}
			continue
		}
		if strings.Trim(a, "[]") == host {
			return true
		}
	}
	return false
}

// httpRequest is http.request{method, url, headers, body, json, timeout}:
// {status, headers, body} or nil, err. A host outside [lua]
// http_allowed_hosts or a malformed request raises an error.
func (rs *runState) httpRequest(L *lua.LState) int {
	c := rs.running(L, "http.request", true)
	opts := L.CheckTable(1)
	str := func(field string) string {
		v := opts.RawGetString(field)
		if v == lua.LNil {
			return ""
		}
		s, ok := v.(lua.LString)
		if !ok {
			L.RaiseError("http.request: %s must be a string, not %s", field, v.Type())
		}
		return string(s)
	}
	opts.ForEach(func(k, _ lua.LValue) {
		switch lua.LVAsString(k) {
		case "method", "url", "headers", "body", "json", "timeout":
		default:
			L.RaiseError("http.request: unknown field %q (fields: method, url, headers, body, json, timeout)", lua.LVAsString(k))
		}
	})
	method := strings.ToUpper(str("method"))
	if method == "" {
		method = http.MethodGet
	}
	raw := str("url")
	if raw == "" {
		L.RaiseError("http.request: url is required")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		L.RaiseError("http.request: url %q is not an http:// or https:// URL", raw)
	}
	if !hostAllowed(u, rs.set.allowed) {
		allowed := "none"
		if len(rs.set.allowed) > 0 {
			allowed = strings.Join(rs.set.allowed, ", ")
		}
		L.RaiseError("http.request: host %q is not allowed: add it to [lua] http_allowed_hosts (allowed: %s)", u.Host, allowed)
	}
	body := str("body")
	headers := http.Header{}
	if v := opts.RawGetString("json"); v != lua.LNil {
		if body != "" {
			L.RaiseError("http.request: give body or json, not both")
		}
		s, err := rs.encodeJSON(c, v)
		if err != nil {
			L.RaiseError("http.request: json: %v", err)
		}
		body = s
		headers.Set("Content-Type", "application/json")
	}
	if v := opts.RawGetString("headers"); v != lua.LNil {
		ht, ok := v.(*lua.LTable)
		if !ok {
			L.RaiseError("http.request: headers must be a table of name = value")
		}
		ht.ForEach(func(k, v lua.LValue) {
			name, val := lua.LVAsString(k), lua.LVAsString(v)
			if strings.ContainsAny(name+val, "\r\n") || name == "" {
				L.RaiseError("http.request: header %q is malformed", name)
			}
			headers.Set(name, val)
		})
	}
	timeout := defaultHTTPTimeout
	if v := opts.RawGetString("timeout"); v != lua.LNil {
		n, ok := v.(lua.LNumber)
		if !ok || n <= 0 {
			L.RaiseError("http.request: timeout must be a positive number of seconds")
		}
		timeout = time.Duration(float64(n) * float64(time.Second))
	}
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		L.RaiseError("http.request: %v", err)
	}
	req.Header = headers
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "kaifuku")
	}
	resp, err := rs.set.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it repeats the method and URL
		}
		if errors.Is(err, context.DeadlineExceeded) && c.ctx.Err() == nil {
			err = fmt.Errorf("no answer within %s", timeout)
		}
		return pushErr(L, fmt.Sprintf("http.request: %s %s: %v", method, redact(u), err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxStringBytes+1))
	if err != nil {
		return pushErr(L, fmt.Sprintf("http.request: %s %s: reading the response: %v", method, redact(u), err))
	}
	if len(data) > maxStringBytes {
		return pushErr(L, fmt.Sprintf("http.request: %s %s: the response body is larger than %d MiB", method, redact(u), maxStringBytes>>20))
	}
	out := L.CreateTable(0, 3)
	out.RawSetString("status", lua.LNumber(resp.StatusCode))
	hdr := L.CreateTable(0, len(resp.Header))
	for k, vs := range resp.Header {
		hdr.RawSetString(strings.ToLower(k), lua.LString(strings.Join(vs, ", ")))
	}
	out.RawSetString("headers", hdr)
	out.RawSetString("body", lua.LString(data))
	L.Push(out)
	return 1
}

// redact drops credentials and the query from a URL shown in messages.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	return c.String()
}

func pushErr(L *lua.LState, msg string) int {
	L.Push(lua.LNil)
	L.Push(lua.LString(msg))
	return 2
}
