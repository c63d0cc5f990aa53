package script

import (
	"strings"
	"testing"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
)

// A settings declaration that cannot be used is refused as the script loads.
func TestSettingsDeclarationErrors(t *testing.T) {
	cases := []struct{ name, settings, want string }{
		{"not a table", `"url"`, "settings must be a table like"},
		{"entry not a table", `{url = "string"}`, "settings.url: must be a table like"},
		{"unknown type", `{url = {type = "text", doc = "d"}}`, "settings.url: type must be one of boolean, integer, list, number, string, not text"},
		{"no doc", `{url = {type = "string"}}`, "settings.url: doc must be one line saying what the setting is"},
		{"doc of two lines", `{url = {type = "string", doc = "a\nb"}}`, "settings.url: doc must be one line"},
		{"field typo", `{url = {type = "string", doc = "d", requird = true}}`, `settings.url: unknown field requird (did you mean "required"?)`},
		{"required not boolean", `{url = {type = "string", doc = "d", required = "yes"}}`, "settings.url: required must be true or false, not yes"},
		{"required with default", `{url = {type = "string", doc = "d", required = true, default = "x"}}`, "settings.url: a required setting has no default"},
		{"ill-typed default", `{retries = {type = "integer", doc = "d", default = 2.5}}`, "settings.retries: default 2.5 is not of type integer"},
		{"boolean default", `{on = {type = "boolean", doc = "d", default = "yes"}}`, "settings.on: default yes is not of type boolean"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := loadErr(t, map[string]string{"bad.lua": "return { settings = " + c.settings + ", execute = function() end }"})
			if !strings.Contains(got, c.want) || !strings.HasPrefix(got, "scripts/bad.lua: ") {
				t.Fatalf("error %q does not contain %q", got, c.want)
			}
		})
	}
}

const declaring = `return {
  settings = {
    url = {type = "string", required = true, doc = "where to post"},
    retries = {type = "integer", default = 3, doc = "further attempts"},
    ratio = {type = "number", default = 0.5, doc = "a fraction"},
    verbose = {type = "boolean", default = false, doc = "say more"},
    to = {type = "list", default = {"a@example.com", "b@example.com"}, doc = "addresses"},
  },
  provides = {"seen"},
  execute = function(store)
    return {seen = config.get("url") .. " " .. config.int("retries") .. " " .. config.number("ratio") .. " " ..
      tostring(config.bool("verbose")) .. " " .. table.concat(config.list("to"), "+")}
  end,
}
`

// The declared settings are on the spec, in name order, with their defaults
// as a section would write them; a task sees the defaults of the keys its
// section leaves unset.
func TestDeclaredSettings(t *testing.T) {
	cfg := conf.Defaults()
	cfg.Sections = map[string]conf.Section{"poster": {Name: "poster", Values: map[string]string{"url": "http://x/", "retries": "5"}}}
	f := newFixture(t, Options{Config: cfg}, map[string]string{"poster.lua": declaring})
	spec, err := f.reg.Lookup("poster")
	if err != nil {
		t.Fatal(err)
	}
	want := []engine.Setting{
		{Name: "ratio", Type: "number", Default: "0.5", Doc: "a fraction"},
		{Name: "retries", Type: "integer", Default: "3", Doc: "further attempts"},
		{Name: "to", Type: "list", Default: "a@example.com, b@example.com", Doc: "addresses"},
		{Name: "url", Type: "string", Required: true, Doc: "where to post"},
		{Name: "verbose", Type: "boolean", Default: "false", Doc: "say more"},
	}
	if len(spec.Settings) != len(want) {
		t.Fatalf("settings %+v", spec.Settings)
	}
	for i := range want {
		if spec.Settings[i] != want[i] {
			t.Errorf("setting %d: %+v, want %+v", i, spec.Settings[i], want[i])
		}
	}
	res := f.run(nil, "poster")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if got := res.Store["seen"]; got != "http://x/ 5 0.5 false a@example.com+b@example.com" {
		t.Errorf("the task saw %q", got)
	}
}

// A section is checked against the declaration as the task is built: every
// unknown, ill-typed and missing key, each at its place.
func TestSettingsChecked(t *testing.T) {
	at := func(line int) conf.Pos { return conf.Pos{File: "k.conf", Line: line} }
	cfg := conf.Defaults()
	cfg.Sections = map[string]conf.Section{"poster": {Name: "poster", Pos: at(10),
		Values: map[string]string{"urll": "http://x/", "retries": "three", "ratio": "half", "verbose": "sometimes", "to": "x"},
		KeyPos: map[string]conf.Pos{"urll": at(11), "retries": at(12), "ratio": at(13), "verbose": at(14), "to": at(15)}}}
	f := newFixture(t, Options{Config: cfg}, map[string]string{"poster.lua": declaring})
	err := f.build("poster")
	if err == nil {
		t.Fatal("a bad section was accepted")
	}
	want := strings.Join([]string{
		`k.conf:11: [poster] urll: unknown setting, did you mean "url"? (scripts/poster.lua declares ratio, retries, to, url, verbose)`,
		`k.conf:12: [poster] retries = "three" is not an integer`,
		`k.conf:13: [poster] ratio = "half" is not a number`,
		`k.conf:14: [poster] verbose = "sometimes" is not a boolean (true/false, yes/no, on/off, 1/0)`,
		`k.conf:10: [poster] url is required: where to post`,
	}, "\n")
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}
}

// A script without a declaration reads any key, as before.
func TestUndeclaredSettingsUnchecked(t *testing.T) {
	cfg := conf.Defaults()
	cfg.Sections = map[string]conf.Section{"free": {Name: "free", Values: map[string]string{"anything": "x"}}}
	f := newFixture(t, Options{Config: cfg}, map[string]string{"free.lua": luaTask(`return {}`)})
	if err := f.build("free"); err != nil {
		t.Fatal(err)
	}
}
