package script

import (
	"context"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// patternProbe runs every string function that takes a pattern and renders
// the results as one line.
const patternProbe = `
local s, p = ...
local function show(...)
  local t = {}
  for i = 1, select("#", ...) do t[#t + 1] = tostring((select(i, ...))) end
  return table.concat(t, ",")
end
local out = {}
local ok, a = pcall(function() return show(string.find(s, p)) end)
out[#out + 1] = "find=" .. (ok and a or "ERR")
ok, a = pcall(function() return show(string.find(s, p, 2)) end)
out[#out + 1] = "find2=" .. (ok and a or "ERR")
ok, a = pcall(function() return show(string.match(s, p)) end)
out[#out + 1] = "match=" .. (ok and a or "ERR")
ok, a = pcall(function() return show(string.gsub(s, p, "<%0>")) end)
out[#out + 1] = "gsub=" .. (ok and a or "ERR")
ok, a = pcall(function() return show(string.gsub(s, p, "[%1]", 2)) end)
out[#out + 1] = "gsub1=" .. (ok and a or "ERR")
ok, a = pcall(function()
  local t = {}
  for x, y in string.gmatch(s, p) do t[#t + 1] = show(x, y) if #t > 20 then break end end
  return table.concat(t, ";")
end)
out[#out + 1] = "gmatch=" .. (ok and a or "ERR")
return table.concat(out, " ")
`

// reference lists where gopher-lua's stock pattern functions differ from the
// Lua reference implementation (checked against Lua 5.1 sources and the lua
// 5.4 interpreter); the sandbox follows the reference. match returns nil
// (not nothing) without a match, find honours init with an empty pattern,
// %f frontiers work, a trailing % or an incomplete %b or %f is an error, and
// '^' is a plain character in gmatch.
var reference = map[[2]string]string{
	{"hello world", "^h"}: "find=1,1 find2=nil match=h gsub=<h>ello world,1 gsub1=[h]ello world,1 gmatch=",
	{"hello world", "^w"}: "find=nil find2=nil match=nil gsub=hello world,0 gsub1=hello world,0 gmatch=",
	{"hello world", "o$"}: "find=nil find2=nil match=nil gsub=hello world,0 gsub1=hello world,0 gmatch=",
	{"hello", ""}:         "find=1,0 find2=2,1 match= gsub=<>h<>e<>l<>l<>o<>,6 gsub1=[]h[]ello,2 gmatch=,nil;,nil;,nil;,nil;,nil;,nil",
	{"", "a*"}:            "find=1,0 find2=1,0 match= gsub=<>,1 gsub1=[],1 gmatch=,nil",
	{"THE quick brown", "%f[%a]%a+"}: "find=1,3 find2=5,9 match=THE gsub=<THE> <quick> <brown>,3 gsub1=[THE] [quick] brown,2 " +
		"gmatch=THE,nil;quick,nil;brown,nil",
	{"THE quick", "%f[%l]%a+"}:      "find=5,9 find2=5,9 match=quick gsub=THE <quick>,1 gsub1=THE [quick],1 gmatch=quick,nil",
	{"  trim me  ", "^%s*(.-)%s*$"}: "find=1,11,trim me find2=2,11,trim me match=trim me gsub=<  trim me  >,1 gsub1=[trim me],1 gmatch=",
	{"bad", "%"}:                    "find=ERR find2=ERR match=ERR gsub=ERR gsub1=ERR gmatch=ERR",
	{"bad", "(a"}:                   "find=ERR find2=ERR match=ERR gsub=b<a>d,1 gsub1=ERR gmatch=ERR",
	{"bad", "%b"}:                   "find=ERR find2=ERR match=ERR gsub=ERR gsub1=ERR gmatch=ERR",
	{"bad", "%f"}:                   "find=ERR find2=ERR match=ERR gsub=ERR gsub1=ERR gmatch=ERR",
	{"a+b", "a+b"}:                  "find=nil find2=nil match=nil gsub=a+b,0 gsub1=a+b,0 gmatch=",
}

// TestPatternsMatchStockLua compares the sandbox's pattern functions (its own
// matcher and linear gsub) with gopher-lua's stock ones on a corpus, except
// where the stock ones differ from the Lua reference.
func TestPatternsMatchStockLua(t *testing.T) {
	cases := [][2]string{
		{"hello world", "o"}, {"hello world", "l+"}, {"hello world", "(l+)(o)"}, {"hello world", "^h"}, {"hello world", "^w"},
		{"hello world", "d$"}, {"hello world", "o$"}, {"hello world", "%w+"}, {"hello world", "(%w+) (%w+)"},
		{"hello world", "()ll()"}, {"hello", ""}, {"", ""}, {"", "a*"}, {"abc", "a-"}, {"abc", "a-c"}, {"abc", "a?b"},
		{"aaab", "a-b"}, {"aaab", "a*b"}, {"aaa", "a*"}, {"aaa", "a+"}, {"x = 1, y = 22", "(%a+)%s*=%s*(%d+)"},
		{"THE (quick) fox", "%((%a+)%)"}, {"f(a(b)c)d", "%b()"}, {"key=val;k2=v2", "([^=;]+)=([^;]*)"},
		{"THE quick brown", "%f[%a]%a+"}, {"THE quick", "%f[%l]%a+"}, {"a.b.c", "%."}, {"a.b.c", "."},
		{"2026-11-25T10:00:00Z", "(%d+)-(%d+)-(%d+)"}, {"abcabc", "(abc)%1"}, {"abab", "(ab)%1"},
		{"  trim me  ", "^%s*(.-)%s*$"}, {"compute1,compute2", "[^,]+"}, {"a]b", "[]]"}, {"a-b", "[a-]"}, {"a^b", "[%^]"},
		{"x^y", "[^^]"}, {"0x1F", "%x+"}, {"tab\there", "%c"}, {"Ünïcode", "%a+"}, {"a\x00b", "%z"}, {"punct!?", "%p+"},
		{"UPPER lower", "%u+"}, {"UPPER lower", "%L+"}, {"hello", "[%a-]"}, {"hello", "(h)(e)(l)(l)(o)"},
		{"bad", "%"}, {"bad", "[a"}, {"bad", "(a"}, {"bad", "a)"}, {"bad", "%b"}, {"bad", "%1"}, {"bad", "%f"},
		{"a+b", "a+b"}, {"a+b", "a%+b"}, {"hello", "l*"}, {"abc", "()"}, {"abc", "b*"},
	}
	stock := lua.NewState()
	defer stock.Close()
	s, _ := newSet(Options{})
	rs := s.newState()
	defer rs.release()
	proto := compileString(t, patternProbe)
	stockFn, err := stock.LoadString(patternProbe)
	if err != nil {
		t.Fatal(err)
	}
	c := &call{task: &task{set: s, script: &script{name: "probe", chunk: "probe"}}, loading: true}
	rs.begin(context.Background(), c)
	defer rs.end(c)
	for _, tc := range cases {
		stock.Push(stockFn)
		stock.Push(lua.LString(tc[0]))
		stock.Push(lua.LString(tc[1]))
		if err := stock.PCall(2, 1, nil); err != nil {
			t.Fatal(err)
		}
		want := stock.Get(-1).String()
		stock.Pop(1)

		fn := rs.L.NewFunctionFromProto(proto)
		fn.Env = rs.newEnv(c)
		rs.L.Push(fn)
		rs.L.Push(lua.LString(tc[0]))
		rs.L.Push(lua.LString(tc[1]))
		if err := rs.L.PCall(2, 1, nil); err != nil {
			t.Fatal(err)
		}
		got := rs.L.Get(-1).String()
		rs.L.Pop(1)
		if ref, ok := reference[tc]; ok {
			want = ref
		}
		if got != want {
			t.Errorf("%q ~ %q:\n  sandbox %s\n  stock   %s", tc[0], tc[1], got, want)
		}
	}
}

func compileString(t *testing.T, src string) *lua.FunctionProto {
	t.Helper()
	chunk, err := parse.Parse(strings.NewReader(src), "probe")
	if err != nil {
		t.Fatal(err)
	}
	proto, err := lua.Compile(chunk, "probe")
	if err != nil {
		t.Fatal(err)
	}
	return proto
}
