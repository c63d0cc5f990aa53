// Package conf reads kaifuku's configuration: Masakari's ini files, with every problem reported at its
// file, line and column. The options, their defaults and meanings are in the reference configuration
// conf/examples/kaifuku.conf; this is the syntax of flow values and the errors kaifuku gives for the
// common mistakes.
//
// # Syntax
//
//	[taskflow_driver_recovery_flows]
//	instance_failure_recovery_tasks = pre:['stop_instance_task'],main:['start_instance_task'],post:['confirm_instance_active_task']
//
// The rules:
//
//   - The value is `pre:[...],main:[...],post:[...]`. All three keys are needed,
//     in any order, each exactly once, unquoted and in lower case. There are no
//     braces around the value.
//   - A list holds task names separated by commas. A name may be in single quotes,
//     in double quotes, or unquoted: `['a', "b", c]` holds three names. An empty
//     phase is `[]`, with nothing between the brackets.
//   - Spaces, tabs and line breaks may appear between any two parts of the value.
//   - A long value continues on the following lines. Each continuation line must
//     start with a space or a tab. A blank line or a comment line ends the value,
//     so comments cannot go inside a value. Put them above the option.
//   - The whole value may be in quotes: `"pre:[...],main:[...],post:[...]"`.
//   - Comments are lines that start with `#` or `;` in the first column. A `#`
//     anywhere else is part of the value.
//
// The example from Masakari's documentation of custom tasks, with the comma it
// forgets before `post:`:
//
//	[taskflow_driver_recovery_flows]
//	host_rh_failure_recovery_tasks = pre:['custom_pre_task','disable_compute_service_task'],
//	                                 main:['prepare_HA_enabled_instances_task',
//	                                 'evacuate_instances_task'],
//	                                 post:['custom_post_task']
//
// A process flow with an alert after the built-in tasks (the task
// `send_alert_mail` is a Lua script `scripts/send_alert_mail.lua`, and its settings
// are in the section that has its name):
//
//	[taskflow_driver_recovery_flows]
//	process_failure_recovery_tasks =
//	    pre:[disable_compute_node_task],
//	    main:[confirm_compute_node_disabled_task],
//	    post:[send_alert_mail]
//
//	[send_alert_mail]
//	to = ops@example.com
//
// Put the flows in `masakari.conf` or in a file of their own, such as Masakari's
// `masakari-custom-recovery-methods.conf`. As with Masakari's engine, a file of
// their own is read only when it is given with one more `--config-file`.
//
// `kaifuku check --config-file F...` reads the files and validates the four flows.
// It prints every problem and exits with status 1 when there are any.
// `kaifuku flows` shows the flows that result from the files.
//
// # Common mistakes and the errors they give
//
// Masakari checks these values only when a notification arrives. It then fails
// that notification, or it runs a flow other than the one you wrote and says
// nothing. kaifuku refuses all of the cases below when it starts. It reports
// every problem of every file at once. Each problem names the file, the line, the
// column where the mistake is, the option and the fix. The messages below are
// exact. The examples set `instance_failure_recovery_tasks` on line 2 of
// `masakari.conf`, unless the example shows another line.
//
// A missing comma between two phases. The example in Masakari's
// documentation has this mistake. Masakari reads it without an error, as a `main`
// phase with a task named `evacuate_instances_task']\npost:['custom_post_task` and
// no `post` phase. With the example above on lines 2 to 5:
//
//	masakari.conf:5:34: [taskflow_driver_recovery_flows] host_rh_failure_recovery_tasks: expected "," before "post:" (the "main" list closed at line 4, column 59); did you forget a comma after "]"?
//
// Braces, or quoted keys (the `{'pre': [...]}` form that Masakari's
// documentation shows). Masakari cannot parse it. When braces and quotes are the
// only problems, the first error shows the whole value corrected:
//
//	masakari.conf:2:35: [taskflow_driver_recovery_flows] instance_failure_recovery_tasks: remove the braces: Masakari cannot parse the "{...}" form shown in the upstream custom-task documentation; the value is pre:[...],main:[...],post:[...] without them (the whole value, corrected: pre:['a', 'b'],main:['c'],post:['d'])
//	masakari.conf:2:36: [taskflow_driver_recovery_flows] instance_failure_recovery_tasks: key 'pre' must not be quoted (Masakari would look for a phase named 'pre', quotes included, and fail); write pre
//
// A phase left out (`pre:['a'],main:['c']`):
//
//	masakari.conf:2: [taskflow_driver_recovery_flows] instance_failure_recovery_tasks: missing "post": every flow needs pre, main and post (an empty phase is written post:[]), e.g. pre:['stop_instance_task'],main:['start_instance_task'],post:['confirm_instance_active_task']
//
// A trailing comma. After the last name, Masakari reads one more task with an
// empty name. After the last list, Masakari refuses the value:
//
//	masakari.conf:2:43: [taskflow_driver_recovery_flows] instance_failure_recovery_tasks: trailing comma after the last task name "a" (Masakari reads one more task named ""); remove it (the whole value, corrected: pre:['a'],main:['b'],post:[])
//	masakari.conf:2:63: [taskflow_driver_recovery_flows] instance_failure_recovery_tasks: trailing comma after the last list (Masakari refuses the value: "Value should be NAME:VALUE pairs separated by ','"); remove it
//
// `[ ]` with a space for an empty phase. Masakari reads it as one task named `""`:
//
//	masakari.conf:2:81: [taskflow_driver_recovery_flows] instance_failure_recovery_tasks: empty task name: "[ ]" has a space inside, which Masakari reads as one task named ""; write post:[] for an empty phase (the whole value, corrected: pre:['a', 'b'],main:['c'],post:[])
//
// An unclosed quote. Masakari reads `pre:['a],main:['c'],post:[]` as a
// phase with garbage names (first message) and refuses `pre:['a"],main:[],post:[]`
// (second message):
//
//	masakari.conf:2:40: [taskflow_driver_recovery_flows] instance_failure_recovery_tasks: the quote ' opened here closes only at line 2, column 50, making the task name "a],main:["; did you forget a closing '? (task names cannot contain "," "[" or "]")
//	masakari.conf:2:40: [taskflow_driver_recovery_flows] instance_failure_recovery_tasks: unclosed quote ' (a task name ends on the line it starts)
//
// A comment after the value (`... post:[] # the default`), or a comment
// line inside a multi-line value (line 3 here, which ends the value, so the
// indented line 4 belongs to nothing):
//
//	masakari.conf:2:64: [taskflow_driver_recovery_flows] instance_failure_recovery_tasks: unexpected "# the default" after the "post" list: comments must start at column 0 on a line of their own (oslo.config keeps an inline comment in the value)
//	masakari.conf:4: unexpected continuation line: a blank or comment line ended the value above, so this indented line belongs to nothing (oslo.config refuses the file too); remove the blank or comment line, or the indentation
//
// A misspelt key, a key given twice, names outside a list, a missing comma or
// bracket:
//
//	masakari.conf:2:45: [taskflow_driver_recovery_flows] instance_failure_recovery_tasks: unknown key "mian"; did you mean "main"?
//	masakari.conf:2:56: [taskflow_driver_recovery_flows] instance_failure_recovery_tasks: duplicate key "pre" (first at line 2, column 35)
//	masakari.conf:2:39: [taskflow_driver_recovery_flows] instance_failure_recovery_tasks: expected "[" to start the "pre" list, found "a,main:c,post:d" (names go in a list: pre:['name'])
//	masakari.conf:3:3: [taskflow_driver_recovery_flows] instance_failure_recovery_tasks: expected "," or "]" after "a", found "'b'],main:[],post:[]"; did you forget a comma?
//	masakari.conf:2:39: [taskflow_driver_recovery_flows] instance_failure_recovery_tasks: the "pre" list is not closed before "main:"; did you forget "]"?
//
// A misspelt option name:
//
//	masakari.conf:3: [taskflow_driver_recovery_flows] process_failure_recovery_task: unknown option; did you mean "process_failure_recovery_tasks"?
//
// An unknown task name. Masakari skips it with a warning and runs the rest of
// the flow. kaifuku refuses it when the flows are built and points to the name:
//
//	kaifuku.conf:3:10: [taskflow_driver_recovery_flows] instance_failure_recovery_tasks: main: unknown task "start_instanse_task" (did you mean "start_instance_task" or "stop_instance_task" or "evacuate_instances_task"?)
//
// A Lua task without its scripts directory. The scripts directory is
// `scripts` beside the first configuration file unless `[DEFAULT] scripts_dir`
// says otherwise. When it does not exist, a flow that names a script gets one
// more line after the unknown-task error:
//
//	masakari.conf:5:11: [taskflow_driver_recovery_flows] process_failure_recovery_tasks: post: unknown task "send_alert_mail" (known: confirm_compute_node_disabled_task, confirm_instance_active_task, disable_compute_node_task, disable_compute_service_task, evacuate_instances_task, no_op, prepare_HA_enabled_instances_task, start_instance_task, stop_instance_task)
//	no Lua task was loaded: the scripts directory /etc/masakari/scripts does not exist (set [DEFAULT] scripts_dir; the default is "scripts" beside the first config file)
package conf
