package main

import (
	"net/http"
	"testing"
)

func TestServeSimulatedHostControl(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon")
	}
	d := newE2EEnv(t, "").start(t)
	stateOf := func(host string) string {
		for _, s := range d.cloud().Services {
			if s.Host == host {
				return s.State
			}
		}
		t.Fatalf("no service on %s", host)
		return ""
	}
	if st := stateOf("compute1"); st != "down" {
		t.Fatalf("compute1 starts %s, want down", st)
	}
	d.mustCall("POST", "/debug/cloud/hosts/compute1/recover", "", nil, http.StatusOK, nil)
	if st := stateOf("compute1"); st != "up" {
		t.Fatalf("after recover compute1 is %s, want up", st)
	}
	d.mustCall("POST", "/debug/cloud/hosts/compute2/fail", "", nil, http.StatusOK, nil)
	d.mustCall("POST", "/debug/cloud/hosts/nowhere/fail", "", nil, http.StatusNotFound, nil)
	d.mustCall("POST", "/debug/cloud/hosts/compute2/explode", "", nil, http.StatusNotFound, nil)
	d.mustCall("GET", "/debug/cloud/hosts/compute2/fail", "", nil, http.StatusMethodNotAllowed, nil)
	req, _ := http.NewRequest("POST", d.url+"/debug/cloud/hosts/compute2/recover", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a token: %d, want 401", resp.StatusCode)
	}
}
