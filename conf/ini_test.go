package conf

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The traps of gopkg.in/ini.v1 (inline comments, continuation lines,
// unescaping) do not reach values.
func TestINITraps(t *testing.T) {
	text := `[oslo_messaging_notifications]
www_authenticate_uri = http://keystone:5000/v3#fragment
auth_url = http://keystone:5000/v3;x
[send_alert_mail]
subject = %(host)s failed at %(time)s
path = C:\dir\
body = first line
    second line # not a comment
  ; not a comment either
quoted = "  spaced  "
single = 'x'
keep = "a" b "c"
`
	c := mustParse(t, "k.conf", text)
	a := c.Sections["oslo_messaging_notifications"]
	if got := a.Values["www_authenticate_uri"]; got != "http://keystone:5000/v3#fragment" {
		t.Errorf("URL with # = %q", got)
	}
	if got := a.Values["auth_url"]; got != "http://keystone:5000/v3;x" {
		t.Errorf("URL with ; = %q", got)
	}
	m := c.Sections["send_alert_mail"]
	want := map[string]string{
		"subject": "%(host)s failed at %(time)s",
		"path":    `C:\dir\`,
		"body":    "first line\nsecond line # not a comment\n; not a comment either",
		"quoted":  "  spaced  ",
		"single":  "x",
		"keep":    `a" b "c`, // oslo strips a first and last quote that match
	}
	if d := cmp.Diff(want, m.Values); d != "" {
		t.Errorf("values (-want +got):\n%s", d)
	}
	if got := m.KeyPos["quoted"]; got != (Pos{File: "k.conf", Line: 10}) {
		t.Errorf("position after a multi-line value: %v", got)
	}
}

// A multi-line value longer than ini.v1's 4 KiB read buffer, and the line
// numbers right after it.
func TestINILongMultiLineValue(t *testing.T) {
	var b strings.Builder
	b.WriteString("[DEFAULT]\n[taskflow_driver_recovery_flows]\ninstance_failure_recovery_tasks = pre:[],\n  main:[\n")
	const n = 300
	for i := range n {
		fmt.Fprintf(&b, "    'custom_task_number_%03d',\n", i)
	}
	b.WriteString("    'last_task'],\n  post:[]\n[lua]\ntask_timeout = 9o\n")
	text := b.String()
	if len(text) < 8192 {
		t.Fatalf("test value is only %d bytes", len(text))
	}
	msg := parseErr(t, "big.conf", text)
	// the flow is read; the one error is on the right line
	wantLine := 4 + n + 1 + 1 + 1 + 1
	if want := fmt.Sprintf("big.conf:%d: [lua] task_timeout: invalid duration \"9o\"", wantLine); !strings.HasPrefix(msg, want) {
		t.Fatalf("got %q, want prefix %q", msg, want)
	}
	text = strings.Replace(text, "9o", "90", 1)
	c := mustParse(t, "big.conf", text)
	main := c.Flows[FlowInstance].Phases[Main]
	if len(main) != n+1 {
		t.Fatalf("main has %d tasks, want %d", len(main), n+1)
	}
	if got := main[n].Pos; got != (Pos{File: "big.conf", Line: 4 + n + 1, Col: 6}) {
		t.Errorf("last task at %v", got)
	}
}

// oslo.config's ini rules, as kaifuku applies them.
func TestINISemantics(t *testing.T) {
	text := "\xef\xbb\xbf[api]\r\nlisten : 127.0.0.1:9999\r\n[my_task]\nlist =\n  a\n  b\n\nafter = 1\nx = 1\nx = 2\n# comment\n;comment\nempty =\n[My_Task]\ny = 3\n"
	c := mustParse(t, "k.conf", text)
	if c.API.Listen != "127.0.0.1:9999" {
		t.Errorf("':' delimiter, CRLF and BOM: listen = %q", c.API.Listen)
	}
	s := c.Sections["my_task"]
	want := map[string]string{"list": "a\nb", "after": "1", "x": "2", "empty": ""}
	if d := cmp.Diff(want, s.Values); d != "" {
		t.Errorf("values (-want +got):\n%s", d)
	}
	if got := s.KeyPos["x"].Line; got != 10 {
		t.Errorf("the last duplicate wins: line %d", got)
	}
	if s.Pos.Line != 3 {
		t.Errorf("section position %v", s.Pos)
	}
	// Task sections keep their case; they are matched to task names exactly.
	if _, ok := c.Sections["My_Task"]; !ok {
		t.Error("section My_Task lost")
	}
	// Owned sections are case-insensitive, as oslo's groups.
	c = mustParse(t, "k.conf", "[LUA]\nmemory_limit_mib = 64\n")
	if c.Lua.MemoryLimitMiB != 64 {
		t.Errorf("[LUA] not read as [lua]")
	}
}

func TestINIErrors(t *testing.T) {
	tests := []struct{ name, text string }{
		{"continuation-after-blank", "[a]\nk = v\n\n  more\n"},
		{"continuation-after-comment", "[a]\nk = v\n# c\n  more\n"},
		{"continuation-after-header", "[a]\n  k = v\n"},
		{"key-outside-section", "k = v\n[a]\n"},
		{"no-delimiter", "[a]\npassword hunter2\n"},
		{"empty-key", "[a]\n= v\n"},
		{"header-with-comment", "[a] # the a section\nk = v\n[b]\nk = v\n"},
		{"header-not-closed", "[a\nk = v\n"},
		{"empty-section-name", "[]\nk = v\n"},
		{"spaces-in-section-name", "[ lua ]\nk = v\n"},
		{"quoted-key", "[a]\n\"k\" = v\n"},
		{"backtick-value", "[a]\nk = `abc`\n"},
		{"triple-quote-value", "[a]\nk = \"\"\"abc\"\"\"\n"},
		{"all-lines-reported", "k = v\n[a]\n  x\nbad line\n[b\n[c]\nok = 1\n\n  y\n"},
		// line numbers right after continuation lines
		{"line-after-continuation", "[lua]\nhttp_allowed_hosts = a,\n  b,\n  c\nmemory_limit_mib = lots\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := parseErr(t, "k.conf", tt.text)
			golden(t, "ini-"+tt.name, msg)
			if strings.Contains(msg, "hunter2") {
				t.Errorf("a secret in the message: %s", msg)
			}
		})
	}
}

// The two readers agree on every value of the example file and the test
// files; normalizeINIValue is what makes ini.v1's text comparable.
func TestNormalizeINIValue(t *testing.T) {
	for in, want := range map[string]string{
		"a":                     "a",
		"'a'":                   "a",
		"a\n    b\n\tc":         "a\nb\nc",
		"\n  a\n  b":            "a\nb",
		"a\n  b\n   ":           "a\nb",
		"\"a\n  b\"":            "a\nb",
		"\"a\"\n  b":            "a\nb",
		"  x  ":                 "x",
		"\"  spaced  \"":        "  spaced  ",
		"'pre:[a],\n  post:[]'": "pre:[a],\npost:[]",
	} {
		if got := normalizeINIValue("f", in); got != want {
			t.Errorf("normalizeINIValue(%q) = %q, want %q", in, got, want)
		}
	}
}
