package script

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
)

// A script declares the keys of its settings section in its returned table,
// so that kaifuku check, the start and a reload refuse a misspelt, missing or
// ill-typed key before a notification needs it:
//
//	settings = {
//	  url     = {type = "string", required = true, doc = "the webhook URL"},
//	  retries = {type = "integer", default = 2, doc = "further attempts after an error"},
//	}
//
// type is one of settingTypes; a setting is required or has a default (or
// neither: optional); doc is one line. A declared default is what config.get
// and the typed helpers return when the section leaves the key unset.

// settingTypes are the types a setting may declare, each with the check of a
// value written in the section (as the config helpers parse it).
var settingTypes = map[string]func(v string) error{
	"string": func(string) error { return nil },
	"list":   func(string) error { return nil },
	"integer": func(v string) error {
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return errors.New("an integer")
		}
		return nil
	},
	"number": func(v string) error {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return errors.New("a number")
		}
		return nil
	},
	"boolean": func(v string) error {
		switch strings.ToLower(v) {
		case "true", "yes", "on", "1", "false", "no", "off", "0":
			return nil
		}
		return errors.New("a boolean (true/false, yes/no, on/off, 1/0)")
	},
}

func settingTypeNames() string {
	names := make([]string, 0, len(settingTypes))
	for n := range settingTypes {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

var settingFields = []string{"type", "required", "default", "doc"}

// readSettings reads the settings field of a returned table; problems are
// appended to errs as "settings.KEY: ...".
func readSettings(v lua.LValue, errs *[]string) []engine.Setting {
	if v == lua.LNil {
		return nil
	}
	tbl, ok := v.(*lua.LTable)
	if !ok {
		*errs = append(*errs, fmt.Sprintf("settings must be a table like {url = {type = \"string\", required = true, doc = \"...\"}}, not a %s", v.Type()))
		return nil
	}
	out := []engine.Setting{}
	tbl.ForEach(func(k, v lua.LValue) {
		name, ok := k.(lua.LString)
		if !ok || name == "" {
			*errs = append(*errs, fmt.Sprintf("settings: key %s must be a setting name", lua.LVAsString(k)))
			return
		}
		if s, ok := readSetting(string(name), v, errs); ok {
			out = append(out, s)
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func readSetting(name string, v lua.LValue, errs *[]string) (engine.Setting, bool) {
	bad := func(format string, a ...any) (engine.Setting, bool) {
		*errs = append(*errs, fmt.Sprintf("settings.%s: ", name)+fmt.Sprintf(format, a...))
		return engine.Setting{}, false
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		return bad("must be a table like {type = \"string\", doc = \"...\"}, not a %s", v.Type())
	}
	var unknown []string
	t.ForEach(func(k, _ lua.LValue) {
		if key, ok := k.(lua.LString); !ok || !contains(settingFields, string(key)) {
			hint := ""
			if ok {
				if c := conf.Closest(string(key), settingFields, 1, conf.Loose); len(c) > 0 {
					hint = fmt.Sprintf(" (did you mean %q?)", c[0])
				}
			}
			unknown = append(unknown, lua.LVAsString(k)+hint)
		}
	})
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return bad("unknown field %s; fields are %s", strings.Join(unknown, ", "), strings.Join(settingFields, ", "))
	}
	s := engine.Setting{Name: name}
	typ, ok := t.RawGetString("type").(lua.LString)
	if !ok || settingTypes[string(typ)] == nil {
		return bad("type must be one of %s, not %s", settingTypeNames(), lua.LVAsString(t.RawGetString("type")))
	}
	s.Type = string(typ)
	doc, ok := t.RawGetString("doc").(lua.LString)
	if !ok || strings.TrimSpace(string(doc)) == "" || strings.ContainsAny(string(doc), "\r\n") {
		return bad("doc must be one line saying what the setting is")
	}
	s.Doc = strings.TrimSpace(string(doc))
	switch r := t.RawGetString("required"); r {
	case lua.LTrue:
		s.Required = true
	case lua.LFalse, lua.LNil:
	default:
		return bad("required must be true or false, not %s", lua.LVAsString(r))
	}
	if d := t.RawGetString("default"); d != lua.LNil {
		if s.Required {
			return bad("a required setting has no default")
		}
		def, err := defaultString(s.Type, d)
		if err != nil {
			return bad("default %s", err)
		}
		s.Default = def
	}
	return s, true
}

// defaultString writes a declared default as it would be written in the
// section.
func defaultString(typ string, d lua.LValue) (string, error) {
	wrong := func() (string, error) {
		return "", fmt.Errorf("%s is not of type %s", lua.LVAsString(d), typ)
	}
	switch typ {
	case "string":
		if s, ok := d.(lua.LString); ok {
			return string(s), nil
		}
	case "integer":
		if n, ok := d.(lua.LNumber); ok && float64(n) == math.Trunc(float64(n)) && !math.IsInf(float64(n), 0) {
			return strconv.FormatInt(int64(n), 10), nil
		}
	case "number":
		if n, ok := d.(lua.LNumber); ok && !math.IsInf(float64(n), 0) && !math.IsNaN(float64(n)) {
			return strconv.FormatFloat(float64(n), 'g', -1, 64), nil
		}
	case "boolean":
		if b, ok := d.(lua.LBool); ok {
			return strconv.FormatBool(bool(b)), nil
		}
	case "list":
		if s, ok := d.(lua.LString); ok {
			return string(s), nil
		}
		if t, ok := d.(*lua.LTable); ok {
			var items []string
			for i := 1; i <= t.Len(); i++ {
				s, ok := t.RawGetInt(i).(lua.LString)
				if !ok {
					return "", fmt.Errorf("must be a list of strings")
				}
				items = append(items, string(s))
			}
			return strings.Join(items, ", "), nil
		}
	}
	return wrong()
}

// checkSettings checks a task's section against its declared settings:
// every key must be declared and parse as its type, and every required one
// must be set. Each problem is a *conf.Error at the key (or the section, for
// a missing key; no place when the section is absent).
func checkSettings(chunk string, decl []engine.Setting, sec conf.Section) error {
	byName := map[string]engine.Setting{}
	names := make([]string, 0, len(decl))
	for _, s := range decl {
		byName[s.Name] = s
		names = append(names, s.Name)
	}
	keys := make([]string, 0, len(sec.Values))
	for k := range sec.Values {
		keys = append(keys, k)
	}
	// In the order of the files, as the operator reads them.
	sort.Slice(keys, func(i, j int) bool {
		pi, pj := sec.KeyPos[keys[i]], sec.KeyPos[keys[j]]
		if pi.File != pj.File || pi.Line != pj.Line {
			return pi.File < pj.File || pi.File == pj.File && pi.Line < pj.Line
		}
		return keys[i] < keys[j]
	})
	var errs []error
	fail := func(pos conf.Pos, key string, format string, a ...any) {
		errs = append(errs, &conf.Error{Pos: pos, Section: sec.Name, Key: key, Err: fmt.Errorf(format, a...)})
	}
	for _, k := range keys {
		s, ok := byName[k]
		if !ok {
			hint := ""
			if c := conf.Closest(k, names, 1, conf.Loose); len(c) > 0 {
				hint = fmt.Sprintf(", did you mean %q?", c[0])
			}
			known := strings.Join(names, ", ")
			if known == "" {
				known = "none"
			}
			fail(sec.KeyPos[k], k, "unknown setting%s (%s declares %s)", hint, chunk, known)
			continue
		}
		v := strings.TrimSpace(sec.Values[k])
		if v == "" {
			continue
		}
		if err := settingTypes[s.Type](v); err != nil {
			fail(sec.KeyPos[k], "", "%s = %q is not %v", k, v, err)
		}
	}
	for _, s := range decl {
		if v, ok := sec.Values[s.Name]; s.Required && (!ok || strings.TrimSpace(v) == "") {
			fail(sec.Pos, "", "%s is required: %s", s.Name, s.Doc)
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns sec with the declared defaults of the keys it leaves
// unset, for the config helpers.
func withDefaults(decl []engine.Setting, sec conf.Section) conf.Section {
	out := conf.Section{Name: sec.Name, Pos: sec.Pos, Values: map[string]string{}, KeyPos: sec.KeyPos}
	for k, v := range sec.Values {
		out.Values[k] = v
	}
	for _, s := range decl {
		if _, set := out.Values[s.Name]; !set && s.Default != "" {
			out.Values[s.Name] = s.Default
		}
	}
	return out
}
