package engine

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Store is the flow store: the notification's inputs and every task's
// results. Values are JSON-shaped (string, float64, bool, nil, []any,
// map[string]any) so that they survive persistence and cross into Lua and
// back unchanged; Normalize makes them so.
type Store map[string]any

// Clone returns a deep copy.
func (s Store) Clone() Store {
	out := make(Store, len(s))
	for k, v := range s {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch t := v.(type) {
	case []any:
		c := make([]any, len(t))
		for i, e := range t {
			c[i] = cloneValue(e)
		}
		return c
	case map[string]any:
		c := make(map[string]any, len(t))
		for k, e := range t {
			c[k] = cloneValue(e)
		}
		return c
	default:
		return v
	}
}

// Keys returns the keys in sorted order.
func (s Store) Keys() []string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// String returns a string value.
func (s Store) String(key string) (string, error) {
	v, ok := s[key]
	if !ok {
		return "", fmt.Errorf("store key %q is missing", key)
	}
	str, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("store key %q is %T, want a string", key, v)
	}
	return str, nil
}

// Strings returns a list of strings ([]any of strings or []string).
func (s Store) Strings(key string) ([]string, error) {
	v, ok := s[key]
	if !ok {
		return nil, fmt.Errorf("store key %q is missing", key)
	}
	switch t := v.(type) {
	case []string:
		return t, nil
	case []any:
		out := make([]string, len(t))
		for i, e := range t {
			str, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("store key %q: item %d is %T, want a string", key, i+1, e)
			}
			out[i] = str
		}
		return out, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("store key %q is %T, want a list of strings", key, v)
}

// Normalize converts v to the JSON shape the store keeps: typed Go slices
// and maps become []any and map[string]any, integers become float64. Values
// JSON cannot carry are an error.
func Normalize(v any) (any, error) {
	switch t := v.(type) {
	case nil, string, bool, float64:
		return t, nil
	case int:
		return float64(t), nil
	case int64:
		return float64(t), nil
	case []string:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = e
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			n, err := Normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			n, err := Normalize(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = n
		}
		return out, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("value of type %T cannot be stored: %w", v, err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}
