package conf

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const flowHeader = "[taskflow_driver_recovery_flows]\n"

// Every row of the reference's table 1.2 that oslo.config parses into what
// the operator meant, plus the forms of the ini layer (quotes, continuation).
func TestFlowAccepted(t *testing.T) {
	abc := [3][]string{{"a", "b"}, {"c"}, {}}
	tests := []struct {
		name  string
		value string // the text after "instance_failure_recovery_tasks = "
		want  [3][]string
	}{
		{"single quotes", `pre:['a'],main:['b'],post:['c']`, [3][]string{{"a"}, {"b"}, {"c"}}},
		{"no quotes", `pre:[a, b],main:[c],post:[]`, abc},
		{"double quotes", `pre:["a", "b"],main:["c"],post:[]`, abc},
		{"mixed quotes", `pre:["a", 'b'],main:[c],post:[]`, abc},
		{"whitespace everywhere", ` pre : [ 'a' , 'b' ] , main : [ 'c' ] , post : []`, abc},
		{"tabs", "pre:\t['a',\t'b'],\tmain:['c'],post:[]", abc},
		{"multi-line", "pre:['a', 'b'],\n  main:['c'],\n  post:['d']", [3][]string{{"a", "b"}, {"c"}, {"d"}}},
		{"list split over lines", "pre:['a',\n  'b'],main:['c'],post:[]", abc},
		{"comma at line start", "pre:['a', 'b']\n  ,main:['c']\n  ,post:[]", abc},
		{"value on the next line", "\n  pre:['a', 'b'],\n  main:['c'],\n  post:[]", abc},
		{"keys in any order", `post:[],main:['c'],pre:['a', 'b']`, abc},
		{"all phases empty", `pre:[],main:[],post:[]`, [3][]string{{}, {}, {}}},
		{"quoted whole value", `"pre:['a', 'b'],main:['c'],post:[]"`, abc},
		{"quoted whole multi-line value", "\"pre:['a', 'b'],\n  main:['c'],\n  post:[]\"", abc},
		{"name with a space", `pre:['a b'],main:[],post:[]`, [3][]string{{"a b"}, {}, {}}},
		{"unquoted name with a space", `pre:[a b],main:[],post:[]`, [3][]string{{"a b"}, {}, {}}},
		{"name with a colon", `pre:['mod:task'],main:[],post:[]`, [3][]string{{"mod:task"}, {}, {}}},
		{"unicode name", `pre:['tâche_1'],main:[],post:[]`, [3][]string{{"tâche_1"}, {}, {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := flowHeader + "instance_failure_recovery_tasks = " + tt.value + "\n"
			c := mustParse(t, "masakari.conf", text)
			if d := cmp.Diff(tt.want, names(c.Flows[FlowInstance])); d != "" {
				t.Errorf("phases (-want +got):\n%s", d)
			}
			if got := c.Flows[FlowInstance].Pos; got != (Pos{File: "masakari.conf", Line: 2}) {
				t.Errorf("spec position %v", got)
			}
			// The other flows keep Masakari's defaults.
			if d := cmp.Diff(names(DefaultFlows()[FlowHostRH]), names(c.Flows[FlowHostRH])); d != "" {
				t.Errorf("host_rh flow changed: %s", d)
			}
		})
	}
}

// The sample file Masakari generates renders the defaults; reading it gives
// exactly the defaults.
func TestFlowMasakariSample(t *testing.T) {
	text := `[taskflow_driver_recovery_flows]
host_auto_failure_recovery_tasks = main:['prepare_HA_enabled_instances_task'],post:['evacuate_instances_task'],pre:['disable_compute_service_task']
host_rh_failure_recovery_tasks = main:['prepare_HA_enabled_instances_task', 'evacuate_instances_task'],post:[],pre:['disable_compute_service_task']
instance_failure_recovery_tasks = main:['start_instance_task'],post:['confirm_instance_active_task'],pre:['stop_instance_task']
process_failure_recovery_tasks = main:['confirm_compute_node_disabled_task'],post:[],pre:['disable_compute_node_task']
`
	c := mustParse(t, "masakari-custom-recovery-methods.conf", text)
	for _, k := range FlowKinds {
		if d := cmp.Diff(names(DefaultFlows()[k]), names(c.Flows[k])); d != "" {
			t.Errorf("%s (-default +sample):\n%s", k, d)
		}
		if c.Flows[k].Pos.IsZero() {
			t.Errorf("%s: no position for a value read from a file", k)
		}
	}
	// Format renders what Masakari's generator writes, in phase order.
	if got, want := DefaultFlows()[FlowHostRH].Format(), "pre:['disable_compute_service_task'],main:['prepare_HA_enabled_instances_task', 'evacuate_instances_task'],post:[]"; got != want {
		t.Errorf("Format = %s, want %s", got, want)
	}
}

func TestFlowDefaultsWhenAbsent(t *testing.T) {
	for name, text := range map[string]string{
		"no section":    "[DEFAULT]\nverify_interval = 2\n",
		"empty section": flowHeader,
		"other options": flowHeader + "process_failure_recovery_tasks = pre:[],main:['no_op'],post:[]\n",
	} {
		t.Run(name, func(t *testing.T) {
			c := mustParse(t, "k.conf", text)
			for _, k := range []FlowKind{FlowHostAuto, FlowHostRH, FlowInstance} {
				if d := cmp.Diff(DefaultFlows()[k], c.Flows[k]); d != "" {
					t.Errorf("%s is not Masakari's default: %s", k, d)
				}
			}
		})
	}
}

// The spec's example with its missing comma added: every task name has its
// file position, as written on its own line.
func TestFlowPositions(t *testing.T) {
	text := `[DEFAULT]

[taskflow_driver_recovery_flows]
host_rh_failure_recovery_tasks = pre:['custom_pre_task','disable_compute_service_task'],
                                 main:['prepare_HA_enabled_instances_task',
                                 'evacuate_instances_task'],
                                 post:['custom_post_task']
`
	c := mustParse(t, "masakari.conf", text)
	got := c.Flows[FlowHostRH]
	p := func(line, col int) Pos { return Pos{File: "masakari.conf", Line: line, Col: col} }
	want := FlowSpec{Kind: FlowHostRH, Pos: Pos{File: "masakari.conf", Line: 4}, Phases: [3][]TaskRef{
		{{"custom_pre_task", p(4, 40)}, {"disable_compute_service_task", p(4, 58)}},
		{{"prepare_HA_enabled_instances_task", p(5, 41)}, {"evacuate_instances_task", p(6, 35)}},
		{{"custom_post_task", p(7, 41)}},
	}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("spec (-want +got):\n%s", d)
	}
	if got := (Pos{File: "m.conf", Line: 3, Col: 7}).String(); got != "m.conf:3:7" {
		t.Errorf("Pos.String = %s", got)
	}
}

// Everything Masakari mis-reads or refuses lazily is refused at load time;
// each case's complete error text is in testdata/flow-<name>.golden.
func TestFlowErrors(t *testing.T) {
	tests := []struct{ name, text string }{
		// table 1.2 rows Masakari gets wrong
		{"braces-upstream-doc", flowHeader + "instance_failure_recovery_tasks = {'pre': ['a','b'], 'main': ['c'], 'post': ['d']}\n"},
		{"braces-multi-line", flowHeader + "host_auto_failure_recovery_tasks = {\n    'pre': ['disable_compute_service_task'],\n    'main': ['prepare_HA_enabled_instances_task'],\n    'post': ['evacuate_instances_task']\n  }\n"},
		{"braces", flowHeader + "instance_failure_recovery_tasks = {pre:['a'],main:['b'],post:['c']}\n"},
		{"braces-not-closed", flowHeader + "instance_failure_recovery_tasks = {pre:['a'],main:['b'],post:['c']\n"},
		{"quoted-keys", flowHeader + "instance_failure_recovery_tasks = 'pre':['a'],'main':['c'],'post':[]\n"},
		{"double-quoted-key", flowHeader + "instance_failure_recovery_tasks = \"pre\":['a'],main:['c'],post:[]\n"},
		{"no-list", flowHeader + "instance_failure_recovery_tasks = pre:a,main:c,post:d\n"},
		{"missing-post", flowHeader + "instance_failure_recovery_tasks = pre:['a'],main:['c']\n"},
		{"missing-all", flowHeader + "instance_failure_recovery_tasks =\n"},
		{"missing-pre-main", flowHeader + "instance_failure_recovery_tasks = post:[]\n"},
		{"unclosed-quote", flowHeader + "instance_failure_recovery_tasks = pre:['a],main:['c'],post:[]\n"},
		{"non-closed-quote", flowHeader + "instance_failure_recovery_tasks = pre:['a\"],main:[],post:[]\n"},
		{"unclosed-quote-at-end-of-line", flowHeader + "instance_failure_recovery_tasks = pre:['a',\n  'b],main:[],post:[]\n"},
		{"space-inside-brackets", flowHeader + "instance_failure_recovery_tasks = pre : [ 'a' , 'b' ] , main : [ 'c' ] , post : [ ]\n"},
		{"trailing-comma-item", flowHeader + "instance_failure_recovery_tasks = pre:['a',],main:['b'],post:[]\n"},
		{"trailing-comma-pair", flowHeader + "instance_failure_recovery_tasks = pre:['a'],main:['b'],post:[],\n"},
		{"trailing-comma-multi-line", flowHeader + "instance_failure_recovery_tasks = pre:['a'],\n  main:['b'],\n  post:[],\n"},
		{"duplicate-key", flowHeader + "instance_failure_recovery_tasks = pre:['a'],main:['b'],pre:['c'],post:[]\n"},
		{"unknown-key", flowHeader + "instance_failure_recovery_tasks = pre:['a'],mian:['b'],post:[]\n"},
		{"uppercase-key", flowHeader + "instance_failure_recovery_tasks = PRE:['a'],main:['b'],post:[]\n"},
		{"extra-key", flowHeader + "instance_failure_recovery_tasks = pre:['a'],main:['b'],post:[],extra:['x']\n"},
		{"inline-comment", flowHeader + "instance_failure_recovery_tasks = pre:['a'],main:['b'],post:[] # the default\n"},
		{"missing-comma-between-names", flowHeader + "instance_failure_recovery_tasks = pre:['a' 'b'],main:[],post:[]\n"},
		{"missing-comma-between-lines", flowHeader + "instance_failure_recovery_tasks = pre:['a'\n  'b'],main:[],post:[]\n"},
		{"list-never-closed", flowHeader + "instance_failure_recovery_tasks = pre:['a'\n"},
		{"list-not-closed-before-key", flowHeader + "instance_failure_recovery_tasks = pre:['a',\n  main:['b'],post:[]\n"},
		{"inner-quotes", flowHeader + "instance_failure_recovery_tasks = pre:[\"'a'\"],main:[],post:[]\n"},
		{"empty-quoted-name", flowHeader + "instance_failure_recovery_tasks = pre:[''],main:[],post:[]\n"},
		{"two-commas", flowHeader + "instance_failure_recovery_tasks = pre:['a',,'b'],main:[],post:[]\n"},
		{"name-with-comma", flowHeader + "instance_failure_recovery_tasks = pre:['a,b'],main:[],post:[]\n"},
		{"name-with-spaces-around", flowHeader + "instance_failure_recovery_tasks = pre:[' a '],main:[],post:[]\n"},
		{"missing-colon", flowHeader + "instance_failure_recovery_tasks = pre['a'],main:[],post:[]\n"},
		{"equals-instead-of-colon", flowHeader + "instance_failure_recovery_tasks = pre=['a'],main:[],post:[]\n"},
		{"empty-phase-without-list", flowHeader + "instance_failure_recovery_tasks = pre:,main:[],post:[]\n"},
		{"stray-bracket", flowHeader + "instance_failure_recovery_tasks = pre:['a']],main:[],post:[]\n"},
		// the spec's own example, which forgets the comma before post:
		{"spec-example-missing-comma", flowHeader + `host_rh_failure_recovery_tasks = pre:['custom_pre_task','disable_compute_service_task'],
                                 main:['prepare_HA_enabled_instances_task',
                                 'evacuate_instances_task']
                                 post:['custom_post_task']
`},
		// oslo ends a value at a comment or blank line; an indented line after it is fatal
		{"comment-inside-value", flowHeader + "instance_failure_recovery_tasks = pre:['a'],\n# the main phase\n  main:['b'],post:[]\n"},
		{"blank-line-inside-value", flowHeader + "instance_failure_recovery_tasks = pre:['a'],\n\n  main:['b'],post:[]\n"},
		// section-level problems
		{"unknown-option", flowHeader + "host_failure_recovery_tasks = pre:[],main:[],post:[]\nprocess_failure_recovery_task = pre:[],main:[],post:[]\n"},
		{"all-problems-of-a-file", flowHeader + `host_auto_failure_recovery_tasks = {'pre': ['a'], 'main': ['b'], 'post': ['c']}
host_rh_failure_recovery_tasks = pre:['a'],main:['b']
instance_failure_recovery_tasks = pre:[ ],main:['b',],post:[],
process_failure_recovery_tasks = pre:['a'] main:[],post:[]
instance_recovery_tasks = pre:[],main:[],post:[]
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := parseErr(t, "masakari.conf", tt.text)
			golden(t, "flow-"+tt.name, msg)
			// Every problem is a *conf.Error with a file and a line.
			var joined interface{ Unwrap() []error }
			_, err := Parse("masakari.conf", []byte(tt.text))
			if errors.As(err, &joined) {
				for _, e := range joined.Unwrap() {
					var ce *Error
					if !errors.As(e, &ce) || ce.Pos.File != "masakari.conf" || ce.Pos.Line == 0 {
						t.Errorf("problem without a position: %v", e)
					}
				}
			}
		})
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for _, k := range FlowKinds {
		s := DefaultFlows()[k]
		got, errs := parseFlowValue(k, Pos{}, textOf("x", 1, s.Format()))
		if len(errs) > 0 {
			t.Fatalf("%s: %v", k, errs)
		}
		if d := cmp.Diff(names(s), names(got)); d != "" {
			t.Errorf("%s: %s", k, d)
		}
	}
	if !strings.Contains(DefaultFlows()[FlowProcess].Format(), "post:[]") {
		t.Error("an empty phase must render as []")
	}
}
