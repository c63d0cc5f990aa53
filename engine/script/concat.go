package script

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
)

// concatName is the local every compiled chunk reads its `..` function
// from. Lua source cannot spell the name, so no script can shadow, read or
// assign it; the chunk's first statement copies it from the base globals.
const concatName = "(concat)"

// capConcat makes every `a .. b .. c` of a parsed chunk a call of the
// size-capped concatenation. gopher-lua's own operator joins all its
// operands in one instruction, which neither the instruction hook nor the
// memory watchdog can stop: forty 16 MiB operands made 640 MiB at once. The
// call joins them the same way (right to left, numbers as strings, the
// __concat metamethod for other values) and refuses a result above
// maxStringBytes before allocating it.
func capConcat(stmts []ast.Stmt) []ast.Stmt {
	w := concatRewriter{}
	w.stmts(stmts)
	if !w.found {
		return stmts
	}
	decl := &ast.LocalAssignStmt{Names: []string{concatName}, Exprs: []ast.Expr{&ast.IdentExpr{Value: concatName}}}
	return append([]ast.Stmt{decl}, stmts...)
}

type concatRewriter struct{ found bool }

func (w *concatRewriter) stmts(list []ast.Stmt) {
	for _, s := range list {
		w.stmt(s)
	}
}

func (w *concatRewriter) stmt(s ast.Stmt) {
	switch s := s.(type) {
	case *ast.AssignStmt:
		w.exprs(s.Lhs)
		w.exprs(s.Rhs)
	case *ast.LocalAssignStmt:
		w.exprs(s.Exprs)
	case *ast.FuncCallStmt:
		s.Expr = w.expr(s.Expr)
	case *ast.DoBlockStmt:
		w.stmts(s.Stmts)
	case *ast.WhileStmt:
		s.Condition = w.expr(s.Condition)
		w.stmts(s.Stmts)
	case *ast.RepeatStmt:
		s.Condition = w.expr(s.Condition)
		w.stmts(s.Stmts)
	case *ast.IfStmt:
		s.Condition = w.expr(s.Condition)
		w.stmts(s.Then)
		w.stmts(s.Else)
	case *ast.NumberForStmt:
		s.Init = w.expr(s.Init)
		s.Limit = w.expr(s.Limit)
		s.Step = w.expr(s.Step)
		w.stmts(s.Stmts)
	case *ast.GenericForStmt:
		w.exprs(s.Exprs)
		w.stmts(s.Stmts)
	case *ast.FuncDefStmt:
		w.stmts(s.Func.Stmts)
	case *ast.ReturnStmt:
		w.exprs(s.Exprs)
	}
}

func (w *concatRewriter) exprs(list []ast.Expr) {
	for i, e := range list {
		list[i] = w.expr(e)
	}
}

func (w *concatRewriter) expr(e ast.Expr) ast.Expr {
	switch e := e.(type) {
	case *ast.StringConcatOpExpr:
		// The parser nests a chain to the right, as the compiler reads it.
		var args []ast.Expr
		var cur ast.Expr = e
		for {
			c, ok := cur.(*ast.StringConcatOpExpr)
			if !ok {
				args = append(args, w.expr(cur))
				break
			}
			args = append(args, w.expr(c.Lhs))
			cur = c.Rhs
		}
		w.found = true
		fn := &ast.IdentExpr{Value: concatName}
		fn.SetLine(e.Line())
		fn.SetLastLine(e.LastLine())
		// AdjustRet: one value, and never a tail call, so that an error
		// names the line of the `..`.
		call := &ast.FuncCallExpr{Func: fn, Args: args, AdjustRet: true}
		call.SetLine(e.Line())
		call.SetLastLine(e.LastLine())
		return call
	case *ast.AttrGetExpr:
		e.Object = w.expr(e.Object)
		e.Key = w.expr(e.Key)
	case *ast.TableExpr:
		for _, f := range e.Fields {
			if f.Key != nil {
				f.Key = w.expr(f.Key)
			}
			f.Value = w.expr(f.Value)
		}
	case *ast.FuncCallExpr:
		if e.Func != nil {
			e.Func = w.expr(e.Func)
		}
		if e.Receiver != nil {
			e.Receiver = w.expr(e.Receiver)
		}
		w.exprs(e.Args)
	case *ast.LogicalOpExpr:
		e.Lhs = w.expr(e.Lhs)
		e.Rhs = w.expr(e.Rhs)
	case *ast.RelationalOpExpr:
		e.Lhs = w.expr(e.Lhs)
		e.Rhs = w.expr(e.Rhs)
	case *ast.ArithmeticOpExpr:
		e.Lhs = w.expr(e.Lhs)
		e.Rhs = w.expr(e.Rhs)
	case *ast.UnaryMinusOpExpr:
		e.Expr = w.expr(e.Expr)
	case *ast.UnaryNotOpExpr:
		e.Expr = w.expr(e.Expr)
	case *ast.UnaryLenOpExpr:
		e.Expr = w.expr(e.Expr)
	case *ast.FunctionExpr:
		w.stmts(e.Stmts)
	}
	return e
}

// luaConcat joins its arguments as the `..` operator does, refusing a
// string larger than maxStringBytes.
func luaConcat(L *lua.LState) int {
	n := L.GetTop()
	rhs := L.Get(n)
	for i := n - 1; i >= 1; {
		lhs := L.Get(i)
		if !lua.LVCanConvToString(lhs) || !lua.LVCanConvToString(rhs) {
			op := L.GetMetaField(lhs, "__concat")
			if op == lua.LNil {
				op = L.GetMetaField(rhs, "__concat")
			}
			if op.Type() != lua.LTFunction {
				L.RaiseError("cannot perform concat operation between %v and %v", lhs.Type().String(), rhs.Type().String())
			}
			L.Push(op)
			L.Push(lhs)
			L.Push(rhs)
			L.Call(2, 1)
			rhs = L.Get(-1)
			L.Pop(1)
			i--
			continue
		}
		// The longest run of strings and numbers ending at i joins at once.
		j := i
		for j > 1 && lua.LVCanConvToString(L.Get(j-1)) {
			j--
		}
		last := lua.LVAsString(rhs)
		size := int64(len(last))
		for k := j; k <= i; k++ {
			size += int64(len(lua.LVAsString(L.Get(k))))
		}
		if size > maxStringBytes {
			L.RaiseError("the result of '..' would be %d bytes, more than the %d MiB limit of kaifuku tasks", size, maxStringBytes>>20)
		}
		var b strings.Builder
		b.Grow(int(size))
		for k := j; k <= i; k++ {
			b.WriteString(lua.LVAsString(L.Get(k)))
		}
		b.WriteString(last)
		rhs = lua.LString(b.String())
		i = j - 1
	}
	L.Push(rhs)
	return 1
}
