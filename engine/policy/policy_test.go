package policy

import (
	"strings"
	"testing"
)

var (
	admin   = Credentials{UserID: "u-admin", ProjectID: "p-admin", Roles: []string{"admin", "member", "reader"}}
	service = Credentials{UserID: "u-kaifuku", ProjectID: "p-service", Roles: []string{"admin", "member", "reader"}}
	member  = Credentials{UserID: "u-demo", ProjectID: "p-demo", Roles: []string{"member", "reader"}}
	reader  = Credentials{UserID: "u-reader", ProjectID: "p-demo", Roles: []string{"reader"}}
	nobody  = Credentials{UserID: "u-none", ProjectID: "p-demo"}
)

// Masakari's defaults: admin in any project may do everything, nobody else
// anything but the versions.
func TestDefaults(t *testing.T) {
	p := Default()
	for _, rule := range p.Rules() {
		want := map[string]bool{"admin": true, "service": true, "member": false, "reader": false, "nobody": false}
		switch rule {
		case "os_masakari_api:versions:index", "os_masakari_api:versions:discoverable":
			want = map[string]bool{"admin": true, "service": true, "member": true, "reader": true, "nobody": true}
		case "admin_or_owner":
			want = map[string]bool{"admin": true, "service": true, "member": true, "reader": true, "nobody": true}
		}
		for name, c := range map[string]Credentials{"admin": admin, "service": service, "member": member, "reader": reader, "nobody": nobody} {
			if got := p.Enforce(rule, c, nil); got != want[name] {
				t.Errorf("%s for %s: %v, want %v", rule, name, got, want[name])
			}
		}
	}
	for _, rule := range []string{"os_masakari_api:segments:index", "os_masakari_api:os-hosts:create",
		"os_masakari_api:notifications:create", "os_masakari_api:vmoves:index", "kaifuku:debug"} {
		if _, ok := Defaults[rule]; !ok {
			t.Errorf("no default rule %s", rule)
		}
	}
	if p.Enforce("os_masakari_api:no-such:rule", admin, nil) {
		t.Error("an unknown rule must be denied")
	}
}

func TestChecks(t *testing.T) {
	target := map[string]string{"project_id": "p-demo", "user_id": "u-demo"}
	tests := []struct {
		rule string
		c    Credentials
		want bool
	}{
		{"", nobody, true},
		{"@", nobody, true},
		{"!", admin, false},
		{"role:reader", reader, true},
		{"role:READER", reader, true},
		{"role:reader", nobody, false},
		{"role:admin or role:reader", reader, true},
		{"role:admin and role:reader", reader, false},
		{"role:admin and role:reader", admin, true},
		{"not role:admin", reader, true},
		{"not role:admin", admin, false},
		{"not not role:admin", admin, true},
		{"(role:admin or role:member) and project_id:%(project_id)s", member, true},
		{"(role:admin or role:member) and project_id:%(project_id)s", Credentials{ProjectID: "other", Roles: []string{"member"}}, false},
		{"((role:admin))", admin, true},
		{"role:admin or role:member and project_id:other", member, false}, // and binds tighter than or
		{"role:admin or (role:member and project_id:p-demo)", member, true},
		{"user_id:%(user_id)s", member, true},
		{"user_id:%(missing)s", member, false},
		{"is_admin:True", admin, true},
		{"is_admin:True", member, false},
		{"is_admin:False", member, true},
		{"rule:admin_api", service, true},
		{"rule:admin_or_owner", member, true},
		{"True:%(enabled)s", member, false}, // target lacks enabled
		{"'p-demo':%(project_id)s", member, true},
		{"project_id:100%%", Credentials{ProjectID: "100%"}, true},
	}
	for _, tc := range tests {
		p, err := Parse("policy.yaml", []byte(`"test": "`+tc.rule+`"`))
		if err != nil {
			t.Fatalf("%q: %v", tc.rule, err)
		}
		if got := p.Enforce("test", tc.c, target); got != tc.want {
			t.Errorf("%q for %+v: %v, want %v", tc.rule, tc.c, got, tc.want)
		}
	}
}

// A reader example as the docs give it: readers may list and show, only
// admins may change anything.
func TestOverrideFile(t *testing.T) {
	p, err := Parse("policy.yaml", []byte(`# readers may look
"context_is_admin": "role:admin"
"reader_api": "role:reader or rule:admin_api"
"os_masakari_api:segments:index": "rule:reader_api"
"os_masakari_api:segments:detail": "rule:reader_api"
`))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Enforce("os_masakari_api:segments:index", reader, nil) || !p.Enforce("os_masakari_api:segments:detail", member, nil) {
		t.Error("readers must list and show segments")
	}
	if p.Enforce("os_masakari_api:segments:create", reader, nil) || !p.Enforce("os_masakari_api:segments:create", admin, nil) {
		t.Error("only admins create segments")
	}
	if got := strings.Join(p.Overridden, ","); got != "context_is_admin,os_masakari_api:segments:detail,os_masakari_api:segments:index,reader_api" {
		t.Errorf("overridden: %s", got)
	}
	// JSON is YAML too.
	p, err = Parse("policy.json", []byte(`{"admin_api": "role:admin or role:operator"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Enforce("os_masakari_api:notifications:create", Credentials{Roles: []string{"operator"}}, nil) {
		t.Error("an overridden base rule applies to the rules that use it")
	}
	// context_is_admin changes is_admin.
	p, err = Parse("policy.yaml", []byte(`"context_is_admin": "role:cloud-admin"`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Enforce("os_masakari_api:segments:index", admin, nil) || !p.Enforce("os_masakari_api:segments:index", Credentials{Roles: []string{"cloud-admin"}}, nil) {
		t.Error("is_admin must follow context_is_admin")
	}
}

func TestFileErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"- a\n- b\n", "policy.yaml:1: want a map of rule names to check strings"},
		{"\"a\": \"@\"\n\"a\": \"!\"\n", `policy.yaml:2: rule "a" set twice (first at line 1)`},
		{"\"a\":\n  - role:admin\n", `policy.yaml:2: rule "a": want a check string`},
		{"\"x\": \"role:admin or\"\n", `policy.yaml:1: rule "x": "role:admin or": the check string ends where a check is expected`},
		{"\"x\": \"(role:admin\"\n", `policy.yaml:1: rule "x": "(role:admin": missing ")"`},
		{"\"x\": \"role:admin)\"\n", `policy.yaml:1: rule "x": "role:admin)": unexpected ")"`},
		{"\"x\": \"admin\"\n", `policy.yaml:1: rule "x": "admin": check "admin": want @, !, rule:NAME, role:NAME or KEY:VALUE`},
		{"\"x\": \"http://example.com/check\"\n", "remote http checks are not supported"},
		{"\"x\": \"rule:admin_apu\"\n", `policy.yaml:1: rule "x": rule:admin_apu names no rule`},
		{"\"x\": \"rule:y\"\n\"y\": \"rule:x\"\n", "refers to itself through"},
		{"\"x\": [\n", "policy.yaml: yaml:"},
	}
	for _, tc := range tests {
		_, err := Parse("policy.yaml", []byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.text, err, tc.want)
		}
	}
	if _, err := Load("does-not-exist.yaml"); err == nil || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Errorf("missing file: %v", err)
	}
	// An empty file is the defaults.
	p, err := Parse("policy.yaml", nil)
	if err != nil || !p.Enforce("os_masakari_api:segments:index", admin, nil) || len(p.Overridden) != 0 {
		t.Errorf("empty file: %v", err)
	}
}

// The shipped reader example parses and does what it says.
func TestReaderExample(t *testing.T) {
	p, err := Load("../../conf/examples/policy-reader.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range []string{"os_masakari_api:segments:index", "os_masakari_api:os-hosts:detail", "os_masakari_api:notifications:index"} {
		if !p.Enforce(rule, reader, nil) {
			t.Errorf("reader denied %s", rule)
		}
	}
	for _, rule := range []string{"os_masakari_api:segments:create", "os_masakari_api:os-hosts:delete", "os_masakari_api:notifications:create"} {
		if p.Enforce(rule, reader, nil) || !p.Enforce(rule, admin, nil) {
			t.Errorf("%s: only admins", rule)
		}
	}
}
