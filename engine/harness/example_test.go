package harness_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kaifuku-ha/kaifuku/builtin"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/harness"
)

// A Lua task that opens an incident, run on a canned HTTP response.
func ExampleSuite_RunTask() {
	dir, err := os.MkdirTemp("", "scripts")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	script := `
return {
  requires = {"host_name"},
  provides = {"incident_id"},
  execute = function(store)
    local resp, err = http.request{method = "POST", url = config.url,
      body = json.encode({summary = store.host_name .. " failed"})}
    if not resp then error(err) end
    sleep(2)
    progress("incident opened", 1.0)
    return {incident_id = json.decode(resp.body).id}
  end,
}`
	if err := os.WriteFile(filepath.Join(dir, "page.lua"), []byte(script), 0o644); err != nil {
		panic(err)
	}

	s := &harness.Suite{Builtins: builtin.Register, ScriptsDir: dir}
	res, err := s.RunTask(context.Background(), "page", harness.TaskOptions{
		Store:  engine.Store{"host_name": "compute1"},
		Config: map[string]string{"url": "http://pager.example/incidents"},
		Fakes: harness.Fakes{HTTP: []harness.HTTPResponse{
			{Method: "POST", URL: "http://pager.example/incidents", Status: 201, Body: `{"id": "P-7"}`},
		}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.OK, res.Provides["incident_id"], res.Duration)
	fmt.Println(res.HTTPRequests[0].Method, res.HTTPRequests[0].URL, res.HTTPRequests[0].Body)
	fmt.Println(res.Progress[0].Timestamp, res.Progress[0].Progress, res.Progress[0].Message)
	// Output:
	// true P-7 2s
	// POST http://pager.example/incidents map[summary:compute1 failed]
	// 2026-01-01 00:00:02 1.0 incident opened
}
