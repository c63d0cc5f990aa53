package script

import "testing"

func TestSmoke(t *testing.T) {
	f := newFixture(t, Options{}, map[string]string{"hello.lua": `
return {
  requires = {"instance_uuid"},
  provides = {"greeting"},
  execute = function(store)
    log.info("hi", {x = 1})
    progress("half", 0.5)
    return {greeting = "hello " .. store.instance_uuid .. (" %d"):format(3) .. string.gsub("aXb", "X", "-")}
  end,
}`})
	res := f.run(nil, "hello")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	t.Log(res.Store, res.Tasks)
	for _, e := range f.logs.AllEntries() {
		t.Log(e.Message, e.Data)
	}
}
