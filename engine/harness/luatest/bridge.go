package luatest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	luar "layeh.com/gopher-luar"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
	"github.com/kaifuku-ha/kaifuku/engine/harness"
	"github.com/kaifuku-ha/kaifuku/engine/script"
)

// harnessAPI is the harness global. It reaches Lua through gopher-luar as
// a struct value: tests call harness.run_task, harness.run_flow and
// harness.find_log, and cannot replace them (luar refuses to set fields of
// a struct value).
type harnessAPI struct {
	RunTask func(*luar.LState) int `luar:"run_task"`
	RunFlow func(*luar.LState) int `luar:"run_flow"`
	FindLog func(*luar.LState) int `luar:"find_log"`
}

// openHarness installs the harness global: run_task and run_flow on the
// suite, with the test file's directory as the base of relative fixture
// paths.
func openHarness(f *file, suite *harness.Suite) {
	rd := reader{sb: f.sb, base: filepath.Dir(f.path)}
	var api harnessAPI
	api.RunTask = func(LL *luar.LState) int {
		L := LL.LState
		task := L.CheckString(1)
		return harnessCall(f, L, "harness.run_task("+strconv.Quote(task)+")", suite,
			func() (harness.TaskOptions, string, error) { return rd.taskOptions(L.OptTable(2, L.NewTable())) },
			func(s *harness.Suite, ctx context.Context, opts harness.TaskOptions) (*harness.TaskResult, error) {
				return s.RunTask(ctx, task, opts)
			},
			func(r *harness.TaskResult) []string { return taskNotes(task, r) }, taskData)
	}
	api.RunFlow = func(LL *luar.LState) int {
		L := LL.LState
		return harnessCall(f, L, "harness.run_flow", suite,
			func() (harness.FlowOptions, string, error) {
				return rd.flowOptions(L.Get(1), L.OptTable(2, L.NewTable()))
			},
			(*harness.Suite).RunFlow, flowNotes, flowData)
	}
	api.FindLog = func(LL *luar.LState) int {
		L := LL.LState
		L.Push(findLog(L, L.CheckTable(1), L.OptString(2, ""), L.CheckString(3)))
		return 1
	}
	f.L.SetGlobal("harness", luar.New(f.L, api))
}

// findLog is harness.find_log(result, level, text): the first entry of a
// run's logs at level (any level when it is nil) whose message contains
// text as plain text, or nil.
func findLog(L *lua.LState, result *lua.LTable, level, text string) lua.LValue {
	logs, ok := result.RawGetString("logs").(*lua.LTable)
	if !ok {
		L.ArgError(1, "want the result of harness.run_task or harness.run_flow, which has logs")
	}
	for i := 1; i <= logs.Len(); i++ {
		e, ok := logs.RawGetInt(i).(*lua.LTable)
		if !ok {
			continue
		}
		lv, _ := e.RawGetString("level").(lua.LString)
		msg, _ := e.RawGetString("message").(lua.LString)
		if (level == "" || string(lv) == level) && strings.Contains(string(msg), text) {
			return e
		}
	}
	return lua.LNil
}

// harnessCall is one call of run_task or run_flow: it reads the options,
// picks the suite, runs, notes under the test what ran and returns the
// result as data. A problem fails the test with the call's name.
func harnessCall[O, R any](f *file, L *lua.LState, call string, suite *harness.Suite,
	read func() (O, string, error), run func(*harness.Suite, context.Context, O) (*R, error),
	notes func(*R) []string, data func(*R) map[string]any) int {
	opts, cfgFile, err := read()
	var s *harness.Suite
	if err == nil {
		s, err = suiteFor(suite, cfgFile)
	}
	if err != nil {
		fail(L, call+": "+firstLine(err.Error()), strings.Join(restLines(err.Error()), "\n"))
	}
	res, err := run(s, luaContext(L), opts)
	if res != nil {
		f.note(notes(res))
	}
	if err != nil {
		fail(L, call+": "+firstLine(err.Error()), strings.Join(restLines(err.Error()), "\n"))
	}
	f.push(L, call, data(res))
	return 1
}

// suiteFor returns the suite of a run: the runner's, or the one of the
// configuration file a test names with opts.config_file (its flows, task
// sections and scripts directory).
func suiteFor(suite *harness.Suite, cfgFile string) (*harness.Suite, error) {
	if cfgFile == "" {
		return suite, nil
	}
	if _, err := os.Stat(cfgFile); err != nil {
		return nil, fmt.Errorf("opts.config_file: %w", err)
	}
	cfg, err := conf.Load(cfgFile)
	if err != nil {
		return nil, fmt.Errorf("opts.config_file: %w", err)
	}
	return &harness.Suite{Config: cfg, Builtins: suite.Builtins}, nil
}

func luaContext(L *lua.LState) context.Context {
	if ctx := L.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

func (f *file) note(lines []string) { *f.output = append(*f.output, lines...) }

// push returns a run's result to the test, converted as the flow store is
// for a task: the test sees the values its task would see.
func (f *file) push(L *lua.LState, call string, result map[string]any) {
	v, err := f.sb.ToLua(result)
	if err != nil {
		fail(L, call+": the result cannot be given to Lua: "+err.Error(), "")
	}
	L.Push(v)
}

// reader reads the options a test passes to the harness. Tables that stand
// for data (the store, fixtures, notifications, HTTP bodies) are converted
// as a task's provided values are, so json.null, json.object and json.array
// mean what they mean in tasks.
type reader struct {
	sb   *script.Sandbox
	base string // relative fixture and configuration paths start here: the test file's directory
}

// data converts a table the test wrote to Go; path names it in errors.
func (rd reader) data(v lua.LValue, path string) (any, error) {
	g, err := rd.sb.FromLua(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// emptyAsNull turns the empty lists in a fixture or a notification into
// JSON null: an empty Lua table there may stand for a list or an object, and
// null fits both.
func emptyAsNull(v any) any {
	switch t := v.(type) {
	case []any:
		if len(t) == 0 {
			return nil
		}
		for i, e := range t {
			t[i] = emptyAsNull(e)
		}
	case map[string]any:
		for k, e := range t {
			t[k] = emptyAsNull(e)
		}
	}
	return v
}

// fields reads a table of named options, refusing unknown names.
func fields(t *lua.LTable, path string, known ...string) (map[string]lua.LValue, error) {
	out := map[string]lua.LValue{}
	var bad error
	t.ForEach(func(k, v lua.LValue) {
		ks, ok := k.(lua.LString)
		if !ok {
			bad = fmt.Errorf("%s: unexpected list item %s; give named options", path, show(v))
			return
		}
		name := string(ks)
		found := false
		for _, n := range known {
			if n == name {
				found = true
			}
		}
		if !found && bad == nil {
			hint := ""
			if c := conf.Closest(name, known, 1, conf.Loose); len(c) > 0 {
				hint = fmt.Sprintf(" (did you mean %q?)", c[0])
			}
			bad = fmt.Errorf("%s: unknown option %q%s; known: %s", path, name, hint, strings.Join(known, ", "))
		}
		out[name] = v
	})
	return out, bad
}

func str(v lua.LValue, path string) (string, error) {
	switch t := v.(type) {
	case lua.LString:
		return string(t), nil
	case lua.LNumber:
		return formatNumber(t), nil
	case lua.LBool:
		return t.String(), nil
	}
	return "", fmt.Errorf("%s: want a string, got %s", path, v.Type())
}

// section reads a task's settings: names to values (numbers and booleans
// are written as the config file would hold them).
func section(v lua.LValue, path string) (map[string]string, error) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("%s: want a table of settings, got %s", path, v.Type())
	}
	out := map[string]string{}
	var bad error
	t.ForEach(func(k, e lua.LValue) {
		ks, ok := k.(lua.LString)
		if !ok {
			bad = fmt.Errorf("%s: setting names must be strings", path)
			return
		}
		if l, ok := e.(*lua.LTable); ok && bad == nil {
			// A list setting, written as the config file would: "a, b".
			var items []string
			for i := 1; i <= l.Len(); i++ {
				s, err := str(l.RawGetInt(i), fmt.Sprintf("%s.%s[%d]", path, ks, i))
				if err != nil {
					bad = err
					return
				}
				items = append(items, s)
			}
			out[string(ks)] = strings.Join(items, ", ")
			return
		}
		s, err := str(e, path+"."+string(ks))
		if err != nil && bad == nil {
			bad = err
		}
		out[string(ks)] = s
	})
	return out, bad
}

func (rd reader) fixture(v lua.LValue) (*simulated.Fixture, error) {
	switch t := v.(type) {
	case lua.LString:
		p := string(t)
		if !filepath.IsAbs(p) {
			p = filepath.Join(rd.base, p)
		}
		fx, err := simulated.LoadFixture(p)
		if err != nil {
			return nil, fmt.Errorf("opts.cloud: %w", err)
		}
		return &fx, nil
	case *lua.LTable:
		g, err := rd.data(t, "opts.cloud")
		if err != nil {
			return nil, err
		}
		data, err := json.Marshal(emptyAsNull(g))
		if err != nil {
			return nil, fmt.Errorf("opts.cloud: %w", err)
		}
		fx, err := simulated.ParseFixture("opts.cloud", data)
		if err != nil {
			// Lines and columns of the JSON made from the table mean
			// nothing to the test's author; the key paths do.
			var ps simulated.Problems
			if errors.As(err, &ps) {
				for i := range ps {
					ps[i].File, ps[i].Line, ps[i].Column = "", 0, 0
					ps[i].Path = "opts.cloud." + luaIndexes(ps[i].Path)
				}
				return nil, ps
			}
			return nil, err
		}
		return &fx, nil
	}
	return nil, fmt.Errorf("opts.cloud: want a fixture table or a fixture file path, got %s", v.Type())
}

var jsonIndex = regexp.MustCompile(`\[(\d+)\]`)

// luaIndexes turns the 0-based list indexes of a fixture key path into the
// 1-based ones of the Lua table the test wrote.
func luaIndexes(path string) string {
	return jsonIndex.ReplaceAllStringFunc(path, func(m string) string {
		n, err := strconv.Atoi(m[1 : len(m)-1])
		if err != nil {
			return m
		}
		return "[" + strconv.Itoa(n+1) + "]"
	})
}

func (rd reader) httpResponses(v lua.LValue) ([]harness.HTTPResponse, error) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("opts.http: want a list of responses, got %s", v.Type())
	}
	var out []harness.HTTPResponse
	for i := 1; i <= t.Len(); i++ {
		path := fmt.Sprintf("opts.http[%d]", i)
		e, ok := t.RawGetInt(i).(*lua.LTable)
		if !ok {
			return nil, fmt.Errorf("%s: want a table such as {method = \"POST\", url = \"...\", status = 200}", path)
		}
		fs, err := fields(e, path, "method", "url", "pattern", "status", "body", "headers", "error", "times")
		if err != nil {
			return nil, err
		}
		var r harness.HTTPResponse
		for k, v := range fs {
			p := path + "." + k
			switch k {
			case "method":
				r.Method, err = str(v, p)
				r.Method = strings.ToUpper(r.Method)
			case "url":
				r.URL, err = str(v, p)
			case "pattern":
				r.Pattern = lua.LVAsBool(v)
			case "status":
				n, ok := v.(lua.LNumber)
				if !ok || n < 100 || n > 599 {
					err = fmt.Errorf("%s: want an HTTP status (100-599), got %s", p, show(v))
				}
				r.Status = int(n)
			case "body":
				if tb, ok := v.(*lua.LTable); ok {
					if r.Body, err = rd.sb.EncodeJSON(tb); err != nil {
						err = fmt.Errorf("%s: %w", p, err)
					}
				} else {
					r.Body, err = str(v, p)
				}
			case "headers":
				r.Headers, err = section(v, p)
			case "error":
				r.Error, err = str(v, p)
			case "times":
				n, ok := v.(lua.LNumber)
				if !ok || n < 1 {
					err = fmt.Errorf("%s: want a count of at least 1, got %s", p, show(v))
				}
				r.Times = int(n)
			}
			if err != nil {
				return nil, err
			}
		}
		if r.URL == "" {
			return nil, fmt.Errorf("%s: url is missing", path)
		}
		if r.Error != "" && r.Status != 0 {
			return nil, fmt.Errorf("%s: give status or error, not both", path)
		}
		out = append(out, r)
	}
	return out, nil
}

// fakeTime reads opts.time: seconds since the epoch or an ISO 8601 time.
func fakeTime(v lua.LValue) (time.Time, error) {
	switch t := v.(type) {
	case lua.LNumber:
		sec := float64(t)
		return time.Unix(0, int64(sec*1e9)).UTC(), nil
	case lua.LString:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
			if tm, err := time.Parse(layout, string(t)); err == nil {
				return tm.UTC(), nil
			}
		}
		return time.Time{}, fmt.Errorf("opts.time: %q is not a time (want \"2026-01-01T00:00:00Z\" or seconds since 1970)", string(t))
	}
	return time.Time{}, fmt.Errorf("opts.time: want a time string or seconds, got %s", v.Type())
}

// fakes reads the options run_task and run_flow share.
func (rd reader) fakes(fs map[string]lua.LValue) (harness.Fakes, error) {
	var fk harness.Fakes
	var err error
	if v, ok := fs["cloud"]; ok {
		if fk.Cloud, err = rd.fixture(v); err != nil {
			return fk, err
		}
	}
	if v, ok := fs["http"]; ok {
		if fk.HTTP, err = rd.httpResponses(v); err != nil {
			return fk, err
		}
	}
	if v, ok := fs["smtp"]; ok {
		t, ok := v.(*lua.LTable)
		if !ok {
			return fk, fmt.Errorf("opts.smtp: want a table such as {error = \"554 5.7.1 relay access denied\"}")
		}
		sf, err := fields(t, "opts.smtp", "error")
		if err != nil {
			return fk, err
		}
		if e, ok := sf["error"]; ok {
			if fk.SMTPRefuse, err = str(e, "opts.smtp.error"); err != nil {
				return fk, err
			}
		}
	}
	if v, ok := fs["time"]; ok {
		if fk.Start, err = fakeTime(v); err != nil {
			return fk, err
		}
	}
	return fk, nil
}

// options reads the named options of a call (known), with the fakes and
// opts.config_file that run_task and run_flow share.
func (rd reader) options(t *lua.LTable, fk *harness.Fakes, known ...string) (map[string]lua.LValue, string, error) {
	fs, err := fields(t, "opts", known...)
	if err != nil {
		return nil, "", err
	}
	cfgFile, err := rd.configFile(fs)
	if err != nil {
		return nil, "", err
	}
	if *fk, err = rd.fakes(fs); err != nil {
		return nil, "", err
	}
	return fs, cfgFile, nil
}

// configFile reads opts.config_file, relative to the test file.
func (rd reader) configFile(fs map[string]lua.LValue) (string, error) {
	v, ok := fs["config_file"]
	if !ok {
		return "", nil
	}
	p, err := str(v, "opts.config_file")
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(rd.base, p)
	}
	return p, nil
}

func (rd reader) taskOptions(t *lua.LTable) (opts harness.TaskOptions, cfgFile string, err error) {
	fs, cfgFile, err := rd.options(t, &opts.Fakes, "store", "config", "config_file", "cloud", "http", "smtp", "time", "phase")
	if err != nil {
		return opts, "", err
	}
	if v, ok := fs["store"]; ok {
		st, ok := v.(*lua.LTable)
		if !ok {
			return opts, "", fmt.Errorf("opts.store: want a table, got %s", v.Type())
		}
		opts.Store = engine.Store{}
		var bad error
		st.ForEach(func(k, e lua.LValue) {
			ks, ok := k.(lua.LString)
			if !ok {
				bad = fmt.Errorf("opts.store: keys must be strings, got %s", show(k))
				return
			}
			g, err := rd.data(e, "opts.store."+string(ks))
			if err != nil && bad == nil {
				bad = err
			}
			opts.Store[string(ks)] = g
		})
		if bad != nil {
			return opts, "", bad
		}
	}
	if v, ok := fs["config"]; ok {
		if opts.Config, err = section(v, "opts.config"); err != nil {
			return opts, "", err
		}
	}
	if v, ok := fs["phase"]; ok {
		s, _ := str(v, "opts.phase")
		switch s {
		case "pre":
			opts.Phase = conf.Pre
		case "main":
			opts.Phase = conf.Main
		case "post":
			opts.Phase = conf.Post
		default:
			return opts, "", fmt.Errorf("opts.phase: want \"pre\", \"main\" or \"post\", got %s", show(v))
		}
	} else {
		opts.Phase = conf.Main
	}
	return opts, cfgFile, nil
}

func (rd reader) flowOptions(kind lua.LValue, t *lua.LTable) (opts harness.FlowOptions, cfgFile string, err error) {
	switch k := kind.(type) {
	case lua.LString:
		opts.Kind = conf.FlowKind(k)
	case *lua.LTable:
		var g any
		g, err = rd.data(k, "notification")
		if err != nil {
			return opts, "", err
		}
		m, ok := emptyAsNull(g).(map[string]any)
		if !ok {
			return opts, "", fmt.Errorf("notification: want a table such as {type = \"COMPUTE_HOST\", hostname = ..., payload = {...}}")
		}
		opts.Notification = m
	default:
		return opts, "", fmt.Errorf("argument 1: want a flow kind (instance, process, host_auto, host_rh) or a notification table, got %s", kind.Type())
	}
	fs, cfgFile, err := rd.options(t, &opts.Fakes, "config", "config_file", "cloud", "http", "smtp", "time", "host", "instance_uuid", "recovery_method", "notification_uuid")
	if err != nil {
		return opts, "", err
	}
	text := map[string]*string{"host": &opts.Host, "instance_uuid": &opts.InstanceUUID,
		"recovery_method": &opts.RecoveryMethod, "notification_uuid": &opts.NotificationUUID}
	for k, v := range fs {
		if dst, ok := text[k]; ok {
			*dst, err = str(v, "opts."+k)
		}
		if k == "config" {
			tb, ok := v.(*lua.LTable)
			if !ok {
				return opts, "", fmt.Errorf("opts.config: want a table of task sections, {task_name = {key = value}}")
			}
			opts.Config = map[string]map[string]string{}
			tb.ForEach(func(tk, tv lua.LValue) {
				if err != nil {
					return
				}
				var sec map[string]string
				sec, err = section(tv, "opts.config."+tk.String())
				opts.Config[tk.String()] = sec
			})
		}
		if err != nil {
			return opts, "", err
		}
	}
	return opts, cfgFile, nil
}

// each converts a list item by item; a nil list is an empty one.
func each[T any](xs []T, f func(T) any) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

func progressData(p harness.Progress) any {
	return map[string]any{"timestamp": p.Timestamp, "progress": p.Progress, "message": p.Message}
}

func hostChangeData(c harness.HostChange) any {
	return map[string]any{"host": c.Host, "field": c.Field, "value": c.Value}
}

// recordedData is what the fakes saw, the part of the result run_task and
// run_flow share.
func recordedData(r harness.Recorded) map[string]any {
	return map[string]any{
		"logs": each(r.Logs, func(e harness.LogEntry) any {
			return map[string]any{"level": e.Level, "message": e.Message, "fields": logFields(e.Fields)}
		}),
		"http_requests": each(r.HTTPRequests, func(q harness.HTTPRequest) any {
			return map[string]any{"method": q.Method, "url": q.URL, "headers": q.Headers, "body": q.Body, "raw_body": q.RawBody}
		}),
		"mails": each(r.Mails, func(m harness.SentMail) any {
			return map[string]any{"from": m.From, "to": m.To, "cc": m.Cc, "subject": m.Subject, "body": m.Body}
		}),
		"duration": r.Duration.Seconds(),
	}
}

// logFields are a log line's fields as data; a value JSON cannot carry is
// shown as Go prints it.
func logFields(fields map[string]any) map[string]any {
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		n, err := engine.Normalize(v)
		if err != nil {
			n = fmt.Sprint(v)
		}
		out[k] = n
	}
	return out
}

// taskData is the result of harness.run_task.
func taskData(r *harness.TaskResult) map[string]any {
	d := recordedData(r.Recorded)
	d["ok"] = r.OK
	if r.Err != nil {
		d["error"] = r.Err.Error()
	}
	if engine.IsEarlyEnd(r.Err) {
		d["skipped"] = engine.IsSkip(r.Err)
	}
	d["status"] = r.Status
	d["state"] = r.Record.State
	d["provides"] = map[string]any(r.Provides)
	d["store"] = map[string]any(r.Store)
	d["progress"] = each(r.Progress, progressData)
	d["host_changes"] = each(r.HostChanges, hostChangeData)
	d["cloud"] = r.Cloud
	return d
}

// flowData is the result of harness.run_flow.
func flowData(r *harness.FlowResult) map[string]any {
	d := recordedData(r.Recorded)
	d["status"] = r.Status
	d["ok"] = r.Status == engine.StatusFinished
	if r.Message != "" {
		d["message"] = r.Message
	}
	d["flows"] = each(r.Flows, func(f conf.FlowKind) any { return string(f) })
	d["tasks"] = each(r.Tasks, func(t harness.FlowTaskResult) any {
		td := map[string]any{"flow": string(t.Flow), "name": t.Name, "phase": t.Phase, "state": t.State,
			"progress": each(t.Progress, progressData)}
		if t.Error != "" {
			td["error"] = t.Error
		}
		return td
	})
	d["task_order"] = each(r.Tasks, func(t harness.FlowTaskResult) any { return t.Name })
	d["store"] = map[string]any(r.Store)
	d["cloud"] = r.Cloud
	d["segment"] = each(r.Segment, func(h harness.SegmentHost) any {
		return map[string]any{"name": h.Name, "reserved": h.Reserved, "on_maintenance": h.OnMaintenance}
	})
	d["host_changes"] = each(r.HostChanges, hostChangeData)
	return d
}

// taskNotes and flowNotes are what -v prints of a run under its test.
func taskNotes(name string, r *harness.TaskResult) []string {
	outcome := "succeeded"
	switch {
	case r.OK:
	case engine.IsEarlyEnd(r.Err):
		outcome = "ended the flow early: " + firstLine(r.Err.Error())
	default:
		outcome = "failed: " + firstLine(r.Err.Error())
	}
	lines := []string{fmt.Sprintf("run_task %s: %s (state %s, %s of fake time)", name, outcome, r.Record.State, r.Duration)}
	return append(lines, recordedNotes(r.Progress, r.Recorded)...)
}

func flowNotes(r *harness.FlowResult) []string {
	var flows []string
	for _, f := range r.Flows {
		flows = append(flows, string(f))
	}
	ran := strings.Join(flows, " then ")
	if ran == "" {
		ran = "(no flow ran)"
	}
	status := r.Status
	if r.Message != "" {
		status += ": " + firstLine(r.Message)
	}
	lines := []string{fmt.Sprintf("run_flow %s: %s (%s of fake time)", ran, status, r.Duration)}
	for _, t := range r.Tasks {
		line := fmt.Sprintf("  task %s [%s %s]: %s", t.Name, t.Flow, t.Phase, t.State)
		if t.Error != "" {
			line += ": " + firstLine(t.Error)
		}
		lines = append(lines, line)
		for _, p := range t.Progress {
			lines = append(lines, fmt.Sprintf("    progress %s %s", p.Progress, p.Message))
		}
	}
	return append(lines, recordedNotes(nil, r.Recorded)...)
}

func recordedNotes(progress []harness.Progress, r harness.Recorded) []string {
	var lines []string
	for _, p := range progress {
		lines = append(lines, fmt.Sprintf("  progress %s %s", p.Progress, p.Message))
	}
	for _, e := range r.Logs {
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var fs []string
		for _, k := range keys {
			v := fmt.Sprint(e.Fields[k])
			if strings.ContainsAny(v, " \t\n\"") {
				v = strconv.Quote(v)
			}
			fs = append(fs, k+"="+v)
		}
		lines = append(lines, fmt.Sprintf("  log %s %q %s", e.Level, e.Message, strings.Join(fs, " ")))
	}
	for _, q := range r.HTTPRequests {
		answer := "no canned response"
		if q.Answer != nil {
			answer = q.Answer.String()
		}
		lines = append(lines, fmt.Sprintf("  http %s %s -> %s", q.Method, q.URL, answer))
	}
	for _, m := range r.Mails {
		lines = append(lines, fmt.Sprintf("  mail to %s: %s", strings.Join(m.To, ", "), m.Subject))
	}
	return lines
}
