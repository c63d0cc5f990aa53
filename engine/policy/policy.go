// Package policy decides, as Masakari's oslo.policy rules do, whether a
// caller may perform an API call: Masakari's default rules, overridable by
// a policy file in oslo.policy's syntax (YAML or JSON).
//
// A rule is a check string: `role:admin`, `rule:admin_api`,
// `project_id:%(project_id)s`, `is_admin:True`, `@` (always), `!` (never),
// combined with `and`, `or`, `not` and parentheses; an empty string allows
// everyone. A generic check `key:value` compares the caller's `key`
// (user_id, project_id, user_domain_id, project_domain_id, is_admin) with
// value, where `%(name)s` is the target's `name`.
package policy

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Credentials are what the checks read about a caller.
type Credentials struct {
	UserID          string
	ProjectID       string
	UserDomainID    string
	ProjectDomainID string
	Roles           []string
}

// Defaults are Masakari's default rules, plus kaifuku's own debug rule.
// Every segment, host, notification and vmove call needs rule:admin_api.
var Defaults = map[string]string{
	"context_is_admin": "role:admin",
	"admin_or_owner":   "is_admin:True or project_id:%(project_id)s",
	"admin_api":        "is_admin:True",

	"os_masakari_api:extensions:index":        "rule:admin_api",
	"os_masakari_api:extensions:detail":       "rule:admin_api",
	"os_masakari_api:extensions:discoverable": "rule:admin_api",

	"os_masakari_api:os-hosts:index":        "rule:admin_api",
	"os_masakari_api:os-hosts:detail":       "rule:admin_api",
	"os_masakari_api:os-hosts:create":       "rule:admin_api",
	"os_masakari_api:os-hosts:update":       "rule:admin_api",
	"os_masakari_api:os-hosts:delete":       "rule:admin_api",
	"os_masakari_api:os-hosts:discoverable": "rule:admin_api",

	"os_masakari_api:notifications:index":        "rule:admin_api",
	"os_masakari_api:notifications:detail":       "rule:admin_api",
	"os_masakari_api:notifications:create":       "rule:admin_api",
	"os_masakari_api:notifications:discoverable": "rule:admin_api",

	"os_masakari_api:segments:index":        "rule:admin_api",
	"os_masakari_api:segments:detail":       "rule:admin_api",
	"os_masakari_api:segments:create":       "rule:admin_api",
	"os_masakari_api:segments:update":       "rule:admin_api",
	"os_masakari_api:segments:delete":       "rule:admin_api",
	"os_masakari_api:segments:discoverable": "rule:admin_api",

	"os_masakari_api:vmoves:index":        "rule:admin_api",
	"os_masakari_api:vmoves:detail":       "rule:admin_api",
	"os_masakari_api:vmoves:discoverable": "rule:admin_api",

	"os_masakari_api:versions:index":        "@",
	"os_masakari_api:versions:discoverable": "@",

	// kaifuku's /debug/ endpoints.
	"kaifuku:debug": "rule:admin_api",
	// kaifuku's release of a notification the storm guard held
	// (POST /v1/notifications/{id}/release).
	"kaifuku:notifications:release": "rule:admin_api",
}

// Policy is a parsed rule set. It is immutable: a reload builds a new one.
type Policy struct {
	rules map[string]check
	// Source names where the overrides came from ("" for the defaults).
	Source string
	// Overridden lists the rules the file set, sorted.
	Overridden []string
}

// Default returns Masakari's default policy.
func Default() *Policy {
	p, err := build(nil, "")
	if err != nil {
		panic("policy: the default rules do not parse: " + err.Error())
	}
	return p
}

// Load reads a policy file (YAML or JSON, a map of rule name to check
// string) over the defaults. Every problem names the file, line and rule.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy file: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load of data already read; name is used in messages.
func Parse(name string, data []byte) (*Policy, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	overrides := map[string]entry{}
	if len(doc.Content) > 0 {
		m := doc.Content[0]
		if m.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s:%d: want a map of rule names to check strings", name, m.Line)
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%s:%d: rule %q: want a check string such as \"role:admin\"", name, v.Line, k.Value)
			}
			if prev, dup := overrides[k.Value]; dup {
				return nil, fmt.Errorf("%s:%d: rule %q set twice (first at line %d)", name, k.Line, k.Value, prev.line)
			}
			overrides[k.Value] = entry{text: v.Value, line: k.Line}
		}
	}
	return build(overrides, name)
}

type entry struct {
	text string
	line int
}

func build(overrides map[string]entry, source string) (*Policy, error) {
	texts := map[string]entry{}
	for k, v := range Defaults {
		texts[k] = entry{text: v}
	}
	p := &Policy{rules: map[string]check{}, Source: source}
	for k, v := range overrides {
		texts[k] = v
		p.Overridden = append(p.Overridden, k)
	}
	sort.Strings(p.Overridden)
	where := func(name string) string {
		if e := texts[name]; e.line > 0 {
			return fmt.Sprintf("%s:%d: rule %q", source, e.line, name)
		}
		return fmt.Sprintf("default rule %q", name)
	}
	var errs []error
	for name, e := range texts {
		c, err := parse(e.text)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where(name), err))
			continue
		}
		p.rules[name] = c
	}
	if len(errs) == 0 {
		for name := range p.rules {
			if err := p.checkRefs(name, nil); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where(name), err))
			}
		}
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// checkRefs refuses references to unknown rules and cycles.
func (p *Policy) checkRefs(name string, path []string) error {
	for _, n := range path {
		if n == name {
			return fmt.Errorf("refers to itself through %s", strings.Join(append(path, name), " -> "))
		}
	}
	c, ok := p.rules[name]
	if !ok {
		return fmt.Errorf("rule:%s names no rule", name)
	}
	for _, ref := range c.refs(nil) {
		if err := p.checkRefs(ref, append(path, name)); err != nil {
			return err
		}
	}
	return nil
}

// Enforce tells whether c may perform rule on target. The target defaults
// to the caller's own project and user, as Masakari's does. An unknown rule
// is denied.
func (p *Policy) Enforce(rule string, c Credentials, target map[string]string) bool {
	r, ok := p.rules[rule]
	if !ok {
		return false
	}
	if target == nil {
		target = map[string]string{"project_id": c.ProjectID, "user_id": c.UserID}
	}
	return r.eval(p, target, p.caller(c))
}

// IsAdmin is Masakari's context.is_admin: the context_is_admin rule
// checked against the caller itself.
func (p *Policy) IsAdmin(c Credentials) bool {
	r, ok := p.rules["context_is_admin"]
	if !ok {
		return false
	}
	cl := &caller{values: c.values(), roles: c.Roles}
	cl.values["is_admin"] = "False"
	return r.eval(p, cl.values, cl)
}

// caller is a caller as the checks see it.
type caller struct {
	values map[string]string
	roles  []string
}

func (p *Policy) caller(c Credentials) *caller {
	cl := &caller{values: c.values(), roles: c.Roles}
	cl.values["is_admin"] = "False"
	if p.IsAdmin(c) {
		cl.values["is_admin"] = "True"
	}
	return cl
}

func (c Credentials) values() map[string]string {
	return map[string]string{
		"user_id": c.UserID, "project_id": c.ProjectID, "tenant": c.ProjectID,
		"user_domain_id": c.UserDomainID, "project_domain_id": c.ProjectDomainID,
	}
}

// Rules lists the rule names of the policy, sorted.
func (p *Policy) Rules() []string {
	n := make([]string, 0, len(p.rules))
	for k := range p.rules {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}
