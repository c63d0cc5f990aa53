package api

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/google/uuid"
	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/jsontree"
	"github.com/kaifuku-ha/kaifuku/engine/recovery"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// Masakari's request schemas (masakari/api/openstack/ha/schemas), JSON
// Schema draft 4 with its custom formats.

var boolValues = []any{true, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
	false, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"}

var (
	nameType        = map[string]any{"type": "string", "minLength": 1, "maxLength": 255, "format": "name"}
	descriptionType = map[string]any{"type": []any{"string", "null"}, "minLength": 0, "maxLength": 255,
		"pattern": `^[^\x00-\x09\x0B\x0C\x0E-\x1F\x7F]*$`}
	hostTypeType = map[string]any{"type": []any{"string", "null"}, "minLength": 0, "maxLength": 255, "pattern": `^[a-zA-Z0-9]*$`}
	booleanType  = map[string]any{"type": []any{"boolean", "string"}, "enum": boolValues}
	hostnameType = map[string]any{"type": "string", "minLength": 1, "maxLength": 255, "pattern": `^[a-zA-Z0-9-._]*$`}
	methods      = []any{"auto", "reserved_host", "auto_priority", "rh_priority"}
)

func wrap(name string, inner map[string]any) map[string]any {
	return map[string]any{"type": "object", "properties": map[string]any{name: inner},
		"required": []any{name}, "additionalProperties": false}
}

func segmentSchema(update, enabled bool) map[string]any {
	props := map[string]any{"name": nameType, "description": descriptionType,
		"recovery_method": map[string]any{"type": "string", "enum": methods}, "service_type": nameType}
	if enabled {
		props["enabled"] = booleanType
	}
	inner := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if update {
		var alts []any
		for _, k := range []string{"name", "description", "recovery_method", "service_type", "enabled"} {
			if _, ok := props[k]; ok {
				alts = append(alts, map[string]any{"required": []any{k}})
			}
		}
		inner["anyOf"] = alts
	} else {
		inner["required"] = []any{"name", "recovery_method", "service_type"}
	}
	return wrap("segment", inner)
}

func hostSchema(update bool) map[string]any {
	props := map[string]any{"name": nameType, "type": hostTypeType, "control_attributes": descriptionType,
		"reserved": booleanType, "on_maintenance": booleanType}
	inner := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if update {
		var alts []any
		for _, k := range []string{"name", "type", "control_attributes", "reserved", "on_maintenance"} {
			alts = append(alts, map[string]any{"required": []any{k}})
		}
		inner["anyOf"] = alts
	} else {
		inner["required"] = []any{"name", "type", "control_attributes"}
	}
	return wrap("host", inner)
}

func notificationSchema() map[string]any {
	return wrap("notification", map[string]any{"type": "object",
		"properties": map[string]any{
			"type":           map[string]any{"type": "string", "enum": []any{"COMPUTE_HOST", "VM", "PROCESS"}},
			"hostname":       hostnameType,
			"generated_time": map[string]any{"type": "string", "format": "date-time"},
			"payload": map[string]any{"type": "object",
				"patternProperties":    map[string]any{`^[a-zA-Z0-9-_:. ]{1,255}$`: map[string]any{"type": "string", "maxLength": 255}},
				"additionalProperties": false},
		},
		"required":             []any{"type", "hostname", "generated_time", "payload"},
		"additionalProperties": false})
}

var events = []any{"STARTED", "STOPPED"}

func payloadSchemas() map[string]map[string]any {
	return map[string]map[string]any{
		"COMPUTE_HOST": {"type": "object", "properties": map[string]any{
			"event":          map[string]any{"type": "string", "enum": events},
			"cluster_status": map[string]any{"type": "string", "enum": []any{"ONLINE", "OFFLINE"}},
			"host_status":    map[string]any{"type": "string", "enum": []any{"NORMAL", "UNKNOWN"}},
		}, "required": []any{"event"}, "additionalProperties": false},
		"PROCESS": {"type": "object", "properties": map[string]any{
			"process_name": map[string]any{"type": "string", "minLength": 1, "maxLength": 4096},
			"event":        map[string]any{"type": "string", "enum": events},
		}, "required": []any{"process_name", "event"}, "additionalProperties": false},
		"VM": {"type": "object", "properties": map[string]any{
			"instance_uuid":    map[string]any{"type": "string", "format": "uuid"},
			"vir_domain_event": map[string]any{"type": "string", "minLength": 1, "maxLength": 255},
			"event":            map[string]any{"type": "string", "minLength": 1, "maxLength": 255},
		}, "required": []any{"instance_uuid", "vir_domain_event", "event"}, "additionalProperties": false},
	}
}

// nameMessage is Masakari's message for a bad name.
const nameMessage = "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace."

var errName = errors.New(nameMessage)

func validName(v any) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return errName
		}
	}
	if strings.TrimSpace(s) != s {
		return errName
	}
	return nil
}

// schemas holds the compiled request schemas.
type schemas struct {
	segmentCreate, segmentCreate12, segmentUpdate, segmentUpdate12 *jsonschema.Schema
	hostCreate, hostUpdate, notification                           *jsonschema.Schema
	payload                                                        map[string]*jsonschema.Schema
}

func compileSchemas() (*schemas, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.AssertFormat()
	c.RegisterFormat(&jsonschema.Format{Name: "name", Validate: validName})
	c.RegisterFormat(&jsonschema.Format{Name: "uuid", Validate: func(v any) error {
		s, ok := v.(string)
		if !ok {
			return nil
		}
		_, err := uuid.Parse(s)
		return err
	}})
	c.RegisterFormat(&jsonschema.Format{Name: "date-time", Validate: func(v any) error {
		s, ok := v.(string)
		if !ok {
			return nil
		}
		_, err := recovery.ParseTime(s)
		return err
	}})
	compile := func(name string, doc map[string]any) (*jsonschema.Schema, error) {
		if err := c.AddResource(name, doc); err != nil {
			return nil, err
		}
		return c.Compile(name)
	}
	s := &schemas{payload: map[string]*jsonschema.Schema{}}
	var err error
	for _, x := range []struct {
		dst  **jsonschema.Schema
		name string
		doc  map[string]any
	}{
		{&s.segmentCreate, "segment-create.json", segmentSchema(false, false)},
		{&s.segmentCreate12, "segment-create-1.2.json", segmentSchema(false, true)},
		{&s.segmentUpdate, "segment-update.json", segmentSchema(true, false)},
		{&s.segmentUpdate12, "segment-update-1.2.json", segmentSchema(true, true)},
		{&s.hostCreate, "host-create.json", hostSchema(false)},
		{&s.hostUpdate, "host-update.json", hostSchema(true)},
		{&s.notification, "notification.json", notificationSchema()},
	} {
		if *x.dst, err = compile(x.name, x.doc); err != nil {
			return nil, fmt.Errorf("schema %s: %w", x.name, err)
		}
	}
	for typ, doc := range payloadSchemas() {
		if s.payload[typ], err = compile("payload-"+typ+".json", doc); err != nil {
			return nil, fmt.Errorf("payload schema %s: %w", typ, err)
		}
	}
	return s, nil
}

// validate checks doc against sch and returns Masakari's 400 message.
// validBody is the request's body checked against sch; a body that does
// not match is Masakari's 400, saying what is wrong.
func (req *request) validBody(sch *jsonschema.Schema) (*jsontree.Node, error) {
	doc, err := req.body()
	if err != nil {
		return nil, err
	}
	if msg, ok := validate(sch, doc); !ok {
		return nil, errorf(400, "%s", msg)
	}
	return doc, nil
}

// since12 is the schema for the request's microversion: v12 from 1.2 on
// (segment descriptions and enabled), v10 before.
func (req *request) since12(v10, v12 *jsonschema.Schema) *jsonschema.Schema {
	if req.minor >= 2 {
		return v12
	}
	return v10
}

func validate(sch *jsonschema.Schema, doc *jsontree.Node) (string, bool) {
	err := sch.Validate(doc.Value())
	if err == nil {
		return "", true
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error(), false
	}
	leaves := collectLeaves(ve, nil)
	if len(leaves) == 0 {
		leaves = []*jsonschema.ValidationError{ve}
	}
	slices.SortStableFunc(leaves, func(a, b *jsonschema.ValidationError) int {
		if d := len(b.InstanceLocation) - len(a.InstanceLocation); d != 0 {
			return d
		}
		return kindRank(a.ErrorKind) - kindRank(b.ErrorKind)
	})
	return pyMessage(doc, leaves[0]), false
}

func collectLeaves(ve *jsonschema.ValidationError, out []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	switch ve.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		return append(out, ve)
	}
	if len(ve.Causes) == 0 {
		return append(out, ve)
	}
	for _, c := range ve.Causes {
		out = collectLeaves(c, out)
	}
	return out
}

func kindRank(k jsonschema.ErrorKind) int {
	switch k.(type) {
	case *kind.Type:
		return 0
	case *kind.Enum:
		return 1
	case *kind.Format:
		return 2
	case *kind.MinLength, *kind.MaxLength:
		return 3
	case *kind.Pattern:
		return 4
	case *kind.AnyOf:
		return 5
	case *kind.Required:
		return 6
	case *kind.AdditionalProperties:
		return 7
	}
	return 8
}

// pyMessage words an error as Python's jsonschema does, wrapped as
// Masakari's validator wraps it.
func pyMessage(doc *jsontree.Node, ve *jsonschema.ValidationError) string {
	inst := doc.At(ve.InstanceLocation)
	var msg string
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		msg = fmt.Sprintf("%s is a required property", pyString(k.Missing[0]))
	case *kind.AdditionalProperties:
		// In the order of the document, as Python's jsonschema lists them.
		props := slices.Clone(k.Properties)
		if inst != nil && inst.Kind == jsontree.Object {
			order := make(map[string]int, len(inst.Keys))
			for i, key := range inst.Keys {
				order[key] = i
			}
			slices.SortFunc(props, func(a, b string) int { return order[a] - order[b] })
		}
		parts := make([]string, len(props))
		for i, p := range props {
			parts[i] = pyString(p)
		}
		verb := "was"
		if len(parts) > 1 {
			verb = "were"
		}
		msg = fmt.Sprintf("Additional properties are not allowed (%s %s unexpected)", strings.Join(parts, ", "), verb)
	case *kind.Enum:
		msg = fmt.Sprintf("%s is not one of %s", pyReprNode(inst), enumRepr(k.Want))
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = pyString(w)
		}
		msg = fmt.Sprintf("%s is not of type %s", pyReprNode(inst), strings.Join(want, ", "))
	case *kind.Format:
		if k.Want == "name" {
			return nameMessage
		}
		msg = fmt.Sprintf("%s is not a %s", pyReprNode(inst), pyString(k.Want))
	case *kind.MinLength:
		msg = fmt.Sprintf("%s is too short", pyReprNode(inst))
	case *kind.MaxLength:
		msg = fmt.Sprintf("%s is too long", pyReprNode(inst))
	case *kind.Pattern:
		msg = fmt.Sprintf("%s does not match %s", pyReprNode(inst), pyString(k.Want))
	case *kind.AnyOf:
		msg = fmt.Sprintf("%s is not valid under any of the given schemas", pyReprNode(inst))
	default:
		msg = ve.Error()
	}
	if len(ve.InstanceLocation) == 0 {
		return msg
	}
	field := ve.InstanceLocation[len(ve.InstanceLocation)-1]
	return fmt.Sprintf("Invalid input for field/attribute %s. Value: %s. %s", field, pyStr(inst), msg)
}

// enumRepr prints an enum as Masakari's schema holds it: a list for the
// recovery methods and booleans, a tuple for the notification fields.
func enumRepr(want []any) string {
	list := pyRepr(want)
	if slices.Contains(want, any("auto")) || slices.Contains(want, any(true)) {
		return list
	}
	return "(" + list[1:len(list)-1] + ")"
}

// pyBool converts a validated boolean value (bool or one of the accepted
// strings).
func pyBool(n *jsontree.Node) bool {
	if n.Kind == jsontree.Bool {
		return n.Bool
	}
	b, _ := conf.ParseBool(n.Str, conf.StrutilsWords)
	return b
}
