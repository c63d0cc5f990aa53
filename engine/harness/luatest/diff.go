package luatest

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/kaifuku-ha/kaifuku/engine/script"
)

// show renders a value on one line for messages: strings quoted, tables in
// Lua syntax (cut when long).
func show(v lua.LValue) string {
	s, _ := showCut(v)
	return s
}

// showLimit is how long a value shown in a one-line message may be.
const showLimit = 120

// showCut is show that also says whether the value was cut.
func showCut(v lua.LValue) (string, bool) {
	var b strings.Builder
	writeCompact(&b, v, map[*lua.LTable]bool{})
	s := b.String()
	if len(s) > showLimit {
		return s[:showLimit-3] + "...", true
	}
	return s, false
}

// writeCompact renders a value on one line: {"a", key = 1}.
func writeCompact(b *strings.Builder, v lua.LValue, seen map[*lua.LTable]bool) {
	t, ok := v.(*lua.LTable)
	if !ok {
		writeValue(b, v, "", seen)
		return
	}
	if seen[t] {
		b.WriteString("<cycle>")
		return
	}
	seen[t] = true
	defer delete(seen, t)
	n := t.Len()
	b.WriteString("{")
	for i, k := range tableKeys(t) {
		if i > 0 {
			b.WriteString(", ")
		}
		if num, ok := k.(lua.LNumber); !ok || float64(num) != float64(int(num)) || int(num) < 1 || int(num) > n {
			writeKey(b, k)
			b.WriteString(" = ")
		}
		writeCompact(b, t.RawGet(k), seen)
	}
	b.WriteString("}")
}

// full returns detail lines with the whole values when a message had to
// cut them.
func full(pairs ...any) string {
	var lines []string
	for i := 0; i+1 < len(pairs); i += 2 {
		label := pairs[i].(string)
		v := pairs[i+1].(lua.LValue)
		if _, cut := showCut(v); !cut {
			continue
		}
		text := pretty(v)
		if s, ok := v.(lua.LString); ok {
			// Strings as they read, not quoted: multi-line bodies stay legible.
			text = string(s)
		}
		lines = append(lines, label+":")
		for _, l := range strings.Split(text, "\n") {
			lines = append(lines, "  "+l)
		}
	}
	return strings.Join(lines, "\n")
}

// pretty renders a value as a Lua literal, tables over several lines with
// list items first and then named keys in sorted order, so that two renderings
// can be compared line by line.
func pretty(v lua.LValue) string {
	var b strings.Builder
	writeValue(&b, v, "", map[*lua.LTable]bool{})
	return b.String()
}

func writeValue(b *strings.Builder, v lua.LValue, indent string, seen map[*lua.LTable]bool) {
	switch t := v.(type) {
	case lua.LString:
		b.WriteString(strconv.Quote(string(t)))
	case lua.LNumber:
		b.WriteString(formatNumber(t))
	case *lua.LTable:
		if seen[t] {
			b.WriteString("<cycle>")
			return
		}
		seen[t] = true
		defer delete(seen, t)
		keys := tableKeys(t)
		if len(keys) == 0 {
			b.WriteString("{}")
			return
		}
		n := t.Len()
		b.WriteString("{\n")
		inner := indent + "  "
		for _, k := range keys {
			b.WriteString(inner)
			if num, ok := k.(lua.LNumber); !ok || float64(num) != float64(int(num)) || int(num) < 1 || int(num) > n {
				writeKey(b, k)
				b.WriteString(" = ")
			}
			writeValue(b, t.RawGet(k), inner, seen)
			b.WriteString(",\n")
		}
		b.WriteString(indent + "}")
	case *lua.LNilType:
		b.WriteString("nil")
	case lua.LBool:
		b.WriteString(t.String())
	default:
		if script.IsNull(v) {
			b.WriteString("json.null")
			return
		}
		fmt.Fprintf(b, "<%s>", v.Type())
	}
}

func writeKey(b *strings.Builder, k lua.LValue) {
	if s, ok := k.(lua.LString); ok && isIdent(string(s)) {
		b.WriteString(string(s))
		return
	}
	b.WriteString("[")
	writeValue(b, k, "", map[*lua.LTable]bool{})
	b.WriteString("]")
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9' {
			continue
		}
		return false
	}
	return true
}

// tableKeys returns the list part 1..n in order, then the other keys sorted
// (numbers before strings).
func tableKeys(t *lua.LTable) []lua.LValue {
	n := t.Len()
	var list, rest []lua.LValue
	t.ForEach(func(k, _ lua.LValue) {
		if num, ok := k.(lua.LNumber); ok && float64(num) == float64(int(num)) && int(num) >= 1 && int(num) <= n {
			return
		}
		rest = append(rest, k)
	})
	for i := 1; i <= n; i++ {
		list = append(list, lua.LNumber(i))
	}
	sort.Slice(rest, func(i, j int) bool {
		a, b := rest[i], rest[j]
		if a.Type() != b.Type() {
			return a.Type() < b.Type()
		}
		if x, ok := a.(lua.LNumber); ok {
			return x < b.(lua.LNumber)
		}
		return a.String() < b.String()
	})
	return append(list, rest...)
}

// deepEqual compares values as assert.same does: tables by contents,
// everything else with ==.
func deepEqual(a, b lua.LValue) bool {
	return deepEqualSeen(a, b, map[[2]*lua.LTable]bool{})
}

func deepEqualSeen(a, b lua.LValue, seen map[[2]*lua.LTable]bool) bool {
	ta, ok1 := a.(*lua.LTable)
	tb, ok2 := b.(*lua.LTable)
	if !ok1 || !ok2 {
		return a.Type() == b.Type() && a == b
	}
	if ta == tb || seen[[2]*lua.LTable{ta, tb}] {
		return true
	}
	seen[[2]*lua.LTable{ta, tb}] = true
	equal := true
	count := 0
	ta.ForEach(func(k, v lua.LValue) {
		count++
		if equal && !deepEqualSeen(v, tb.RawGet(k), seen) {
			equal = false
		}
	})
	if !equal {
		return false
	}
	tb.ForEach(func(lua.LValue, lua.LValue) { count-- })
	return count == 0
}

// diff compares two renderings line by line and returns them merged, the
// lines only in want marked "-", the lines only in got marked "+"; long runs
// of common lines are cut to a few lines of context.
func diff(want, got string) string {
	a := strings.Split(want, "\n")
	b := strings.Split(got, "\n")
	// Longest common subsequence, quadratic: renderings in tests are small.
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var lines []line
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			lines = append(lines, line{' ', a[i]})
			i++
			j++
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			lines = append(lines, line{'-', a[i]})
			i++
		default:
			lines = append(lines, line{'+', b[j]})
			j++
		}
	}
	const context = 3
	near := make([]bool, len(lines))
	for k, l := range lines {
		if l.op == ' ' {
			continue
		}
		for d := max(0, k-context); d <= min(len(lines)-1, k+context); d++ {
			near[d] = true
		}
	}
	// Cutting one or two lines saves nothing: show short gaps.
	for k := 0; k < len(near); {
		if near[k] {
			k++
			continue
		}
		end := k
		for end < len(near) && !near[end] {
			end++
		}
		if end-k <= 2 {
			for d := k; d < end; d++ {
				near[d] = true
			}
		}
		k = end
	}
	var out strings.Builder
	skipped := false
	for k, l := range lines {
		if !near[k] {
			if !skipped {
				out.WriteString("  ...\n")
				skipped = true
			}
			continue
		}
		skipped = false
		out.WriteByte(l.op)
		out.WriteByte(' ')
		out.WriteString(l.text)
		out.WriteByte('\n')
	}
	return strings.TrimSuffix(out.String(), "\n")
}

// formatNumber prints a Lua number as Lua would.
func formatNumber(n lua.LNumber) string {
	f := float64(n)
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', 14, 64)
}
