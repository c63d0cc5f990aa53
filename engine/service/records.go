package service

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/kaifuku-ha/kaifuku/engine"
)

// records encodes the task records the listener persists. A record is
// written on every change, and the progress entries of a running task only
// grow: the evacuation task adds one per server, so encoding every entry at
// each change would cost the square of a host's servers. records keeps the
// entries of each task encoded so far and encodes only the new ones; the
// result is json.Marshal's.
type records struct {
	mu    sync.Mutex
	tasks map[taskKey]*encodedEntries
}

// taskKey is a task of a notification's flow.
type taskKey struct{ notification, flow, task string }

// encodedEntries are the first n progress entries of a task's record,
// encoded and comma-separated.
type encodedEntries struct {
	n    int
	last engine.ProgressEntry // the n-th: a record whose n-th differs is another one
	buf  []byte
}

// detailsNull is how json.Marshal writes a record without progress entries.
var detailsNull = []byte(`"progress_details":null`)

// encode returns json.Marshal(e.Record).
func (r *records) encode(e engine.Event) ([]byte, error) {
	rec := e.Record
	details := rec.Details
	rec.Details = nil
	head, err := json.Marshal(rec)
	if err != nil || details == nil {
		return head, err
	}
	// Strings are written with their quotes escaped: the key, quoted, is
	// found only as the key.
	i := bytes.Index(head, detailsNull)
	if i < 0 {
		return json.Marshal(e.Record)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := taskKey{e.NotificationUUID, string(e.Flow), e.Task}
	c := r.tasks[key]
	if c == nil || c.n > len(details) || (c.n > 0 && !sameEntry(details[c.n-1], c.last)) {
		c = &encodedEntries{}
		if r.tasks == nil {
			r.tasks = map[taskKey]*encodedEntries{}
		}
		r.tasks[key] = c
	}
	for _, d := range details[c.n:] {
		b, err := json.Marshal(d)
		if err != nil {
			delete(r.tasks, key)
			return nil, err
		}
		if c.n > 0 {
			c.buf = append(c.buf, ',')
		}
		c.buf = append(c.buf, b...)
		c.n++
		c.last = d
	}
	out := make([]byte, 0, len(head)+len(c.buf)+2)
	out = append(out, head[:i]...)
	out = append(out, `"progress_details":[`...)
	out = append(out, c.buf...)
	out = append(out, ']')
	return append(out, head[i+len(detailsNull):]...), nil
}

// forget drops what was kept of a flow's run once it has ended.
func (r *records) forget(notification, flow string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.tasks {
		if k.notification == notification && k.flow == flow {
			delete(r.tasks, k)
		}
	}
}

func sameEntry(a, b engine.ProgressEntry) bool {
	return a.Timestamp.Equal(b.Timestamp) && a.Progress == b.Progress && a.Message == b.Message
}
