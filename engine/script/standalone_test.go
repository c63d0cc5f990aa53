package script

import (
	"reflect"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

func TestSandboxSharesTheTasksConversionAndJSON(t *testing.T) {
	sb := NewSandbox()
	defer sb.Close()
	L := sb.State()

	in := map[string]any{"list": []any{1.0, nil, "x"}, "none": map[string]any{}, "nothing": []any{}}
	lv, err := sb.ToLua(in)
	if err != nil {
		t.Fatal(err)
	}
	L.SetGlobal("value", lv)
	if err := L.DoString(`
		assert(value.list[2] == json.null, "a nil list item is json.null")
		encoded = json.encode(value)
		made = {list = {1, json.null, "x"}, none = json.object(), nothing = json.array()}
	`); err != nil {
		t.Fatal(err)
	}
	if got, want := lua.LVAsString(L.GetGlobal("encoded")), `{"list":[1,null,"x"],"none":{},"nothing":[]}`; got != want {
		t.Errorf("json.encode wrote %s, want %s", got, want)
	}
	for _, name := range []string{"value", "made"} {
		back, err := sb.FromLua(L.GetGlobal(name))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, in) {
			t.Errorf("%s came back as %#v, want %#v", name, back, in)
		}
	}
	if s, err := sb.EncodeJSON(L.GetGlobal("made")); err != nil || s != lua.LVAsString(L.GetGlobal("encoded")) {
		t.Errorf("EncodeJSON: %q, %v", s, err)
	}
	if !IsNull(L.GetField(L.GetGlobal("json"), "null")) || IsNull(lua.LNil) || IsNull(L.NewUserData()) {
		t.Error("IsNull does not tell json.null from other values")
	}
	if _, err := sb.FromLua(L.NewFunction(func(*lua.LState) int { return 0 })); err == nil {
		t.Error("a function converted to data")
	}
}

func TestSandboxGlobalsAreItsOwnOverReadOnlyLibraries(t *testing.T) {
	sb := NewSandbox()
	defer sb.Close()
	L := sb.State()
	if err := L.DoString(`mine = 1; function helper() return mine end`); err != nil {
		t.Fatal(err)
	}
	if L.GetGlobal("mine") != lua.LNumber(1) {
		t.Error("a global the code set is not in the sandbox's globals")
	}
	for code, want := range map[string]string{
		`string.upper = nil`:          "library tables are read-only",
		`http.request({url = "x"})`:   "http.request: no task is running",
		`os.execute("true")`:          "os.execute is disabled",
		`io.open("x")`:                "the io library is not available",
		`setmetatable(json.null, {})`: "table expected",
	} {
		err := L.DoString(code)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", code, err, want)
		}
	}
	// Each sandbox has globals of its own.
	other := NewSandbox()
	defer other.Close()
	if other.State().GetGlobal("mine") != lua.LNil {
		t.Error("globals leak between sandboxes")
	}
}
