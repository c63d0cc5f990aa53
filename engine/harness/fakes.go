package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
	"github.com/yuin/gopher-lua/pm"

	"github.com/kaifuku-ha/kaifuku/engine/recovery"
)

// HTTPResponse is one canned answer of the fake HTTP client. The first
// response whose method and URL match a request answers it.
type HTTPResponse struct {
	Method  string // empty matches any method
	URL     string // the whole URL, or a Lua pattern when Pattern is set
	Pattern bool
	Status  int // default 200
	Body    string
	Headers map[string]string
	// Error, when set, fails the request as a network error would
	// ("connection refused") instead of answering.
	Error string
	// Times limits how many requests this response answers; 0 means any
	// number. Later responses for the same URL then take over (a 500, then a
	// 200 on the retry).
	Times int
}

func (r HTTPResponse) String() string {
	m := r.Method
	if m == "" {
		m = "ANY"
	}
	u := r.URL
	if r.Pattern {
		u = "pattern " + strconv.Quote(r.URL)
	}
	if r.Error != "" {
		return fmt.Sprintf("%s %s (error %q)", m, u, r.Error)
	}
	return fmt.Sprintf("%s %s (status %d)", m, u, r.status())
}

func (r HTTPResponse) status() int {
	if r.Status == 0 {
		return http.StatusOK
	}
	return r.Status
}

// HTTPRequest is a request a task made.
type HTTPRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	// Body is the request body, decoded when it is JSON (a map, a list...),
	// the raw text otherwise.
	Body any `json:"body"`
	// RawBody is the body as sent.
	RawBody string `json:"raw_body"`
	// Answer is the canned response that answered it, or nil.
	Answer *HTTPResponse `json:"-"`
}

// FakeHTTP answers requests from canned responses and records them. It
// implements the Lua sandbox's HTTP client. Safe for concurrent use.
type FakeHTTP struct {
	mu        sync.Mutex
	responses []HTTPResponse
	used      []int
	requests  []HTTPRequest
	unmatched []string
}

// NewFakeHTTP returns a fake answering with responses.
func NewFakeHTTP(responses []HTTPResponse) *FakeHTTP {
	return &FakeHTTP{responses: responses, used: make([]int, len(responses))}
}

// Do answers req from the first matching canned response. A request that
// matches none fails with an error (which the task sees) and is remembered
// as unmatched.
func (f *FakeHTTP) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		body = b
	}
	rec := HTTPRequest{Method: req.Method, URL: req.URL.String(), Headers: map[string]string{}, RawBody: string(body)}
	for k, v := range req.Header {
		rec.Headers[k] = strings.Join(v, ", ")
	}
	rec.Body = decodeBody(body)

	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.responses {
		if r.Times > 0 && f.used[i] >= r.Times {
			continue
		}
		ok, err := r.matches(req.Method, rec.URL)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		f.used[i]++
		answer := r
		rec.Answer = &answer
		f.requests = append(f.requests, rec)
		if r.Error != "" {
			return nil, errors.New(r.Error)
		}
		resp := &http.Response{
			Status:        fmt.Sprintf("%d %s", r.status(), http.StatusText(r.status())),
			StatusCode:    r.status(),
			Proto:         "HTTP/1.1",
			ProtoMajor:    1,
			ProtoMinor:    1,
			Header:        http.Header{},
			Body:          io.NopCloser(strings.NewReader(r.Body)),
			ContentLength: int64(len(r.Body)),
			Request:       req,
		}
		for k, v := range r.Headers {
			resp.Header.Set(k, v)
		}
		return resp, nil
	}
	f.requests = append(f.requests, rec)
	f.unmatched = append(f.unmatched, req.Method+" "+rec.URL)
	return nil, fmt.Errorf("no canned response for %s %s", req.Method, rec.URL)
}

func (r HTTPResponse) matches(method, url string) (bool, error) {
	if r.Method != "" && !strings.EqualFold(r.Method, method) {
		return false, nil
	}
	if !r.Pattern {
		return r.URL == url, nil
	}
	m, err := pm.Find(r.URL, []byte(url), 0, 1)
	if err != nil {
		return false, fmt.Errorf("canned response url pattern %q: %w", r.URL, err)
	}
	return len(m) > 0, nil
}

func decodeBody(b []byte) any {
	if len(bytes.TrimSpace(b)) == 0 {
		return string(b)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	return v
}

// Requests returns the requests made so far, in order.
func (f *FakeHTTP) Requests() []HTTPRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]HTTPRequest(nil), f.requests...)
}

// Unmatched returns an error listing the requests no canned response
// answered and the responses there were, or nil.
func (f *FakeHTTP) Unmatched() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.unmatched) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d HTTP request(s) matched no canned response: %s", len(f.unmatched), strings.Join(f.unmatched, "; "))
	if len(f.responses) == 0 {
		b.WriteString("; opts.http is empty: add a response such as {method = \"POST\", url = \"...\", status = 200}")
	} else {
		list := make([]string, len(f.responses))
		for i, r := range f.responses {
			list[i] = r.String()
		}
		b.WriteString("; canned responses: " + strings.Join(list, "; "))
	}
	return errors.New(b.String())
}

// SentMail is a mail a task sent (or tried to send, when Error is set).
type SentMail struct {
	From    string   `json:"from"`
	To      []string `json:"to"`
	Cc      []string `json:"cc"`
	Subject string   `json:"subject"`
	Body    string   `json:"body"`
}

// FakeMailer records mails instead of sending them, or refuses every mail
// with Refuse (an SMTP server's answer such as "554 5.7.1 relay denied").
type FakeMailer struct {
	Refuse string

	mu    sync.Mutex
	mails []SentMail
}

func (m *FakeMailer) record(ctx context.Context, mail SentMail) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.Refuse != "" {
		return errors.New(m.Refuse)
	}
	m.mu.Lock()
	m.mails = append(m.mails, mail)
	m.mu.Unlock()
	return nil
}

// Mails returns the mails accepted so far, in order.
func (m *FakeMailer) Mails() []SentMail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]SentMail(nil), m.mails...)
}

// LogEntry is one log line of a run.
type LogEntry struct {
	Level   string         `json:"level"`
	Message string         `json:"message"`
	Fields  map[string]any `json:"fields"`
}

// logRecorder is a logrus hook that keeps every entry of one run's logger.
type logRecorder struct {
	mu      sync.Mutex
	entries []LogEntry
}

func (r *logRecorder) Levels() []logrus.Level { return logrus.AllLevels }

func (r *logRecorder) Fire(e *logrus.Entry) error {
	fields := make(map[string]any, len(e.Data))
	for k, v := range e.Data {
		switch t := v.(type) {
		case error:
			fields[k] = t.Error()
		case fmt.Stringer:
			fields[k] = t.String()
		default:
			fields[k] = v
		}
	}
	r.mu.Lock()
	r.entries = append(r.entries, LogEntry{Level: e.Level.String(), Message: e.Message, Fields: fields})
	r.mu.Unlock()
	return nil
}

func (r *logRecorder) all() []LogEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]LogEntry(nil), r.entries...)
}

// newLogger returns a logger of its own for one run, writing nowhere and
// recording everything from debug up.
func newLogger() (*logrus.Logger, *logRecorder) {
	rec := &logRecorder{}
	log := logrus.New()
	log.SetOutput(io.Discard)
	log.SetLevel(logrus.DebugLevel)
	log.AddHook(rec)
	return log, rec
}

// HostChange is a change the flow made to the failover segment's hosts.
type HostChange = recovery.HostChange

// SegmentHost is a host of the segment at the end of a run.
type SegmentHost = recovery.SegmentHost
