package dashboard_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/kaifuku-ha/kaifuku/engine/daemon/daemontest"
)

// The dashboard in a real browser: Debian's headless Chromium, driven over
// the DevTools protocol, against a daemon serving in the test process on
// the simulated cloud. Without Chromium the test skips, except in CI
// (CI=true), where a missing Chromium is a failure. The screenshots go to
// $KAIFUKU_SCREENSHOTS (default: the test's temporary directory).

func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KAIFUKU_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is missing (apt-get install chromium)")
	}
	t.Skip("Chromium not installed (apt-get install chromium)")
	return ""
}

func TestBrowserRecoveryAndMaintenance(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real browser")
	}
	browser := chromium(t)
	shots := os.Getenv("KAIFUKU_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	// compute1's nova-compute is dead; its two HA servers are evacuated to
	// the others, slowly enough (4 s, twice the page's refresh) to watch
	// the timeline move.
	d := daemontest.NewEnv(t, daemontest.HostDownFixture(4000), "").Start(t)
	base, token := d.URL, d.Token

	segID, hostIDs := d.Segment("rack-a", true, "compute1", "compute2", "compute3")

	// Chromium's helpers may still write to their profile for a moment
	// after the browser ended, so the profile is removed with retries
	// rather than by t.TempDir.
	profile, err := os.MkdirTemp("", "kaifuku-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.Headless,
		chromedp.DisableGPU, chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.UserDataDir(profile), chromedp.WindowSize(1280, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	defer func() {
		cancelBrowser()
		cancelAlloc()
		for i := 0; i < 50; i++ {
			if err = os.RemoveAll(profile); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("the browser's profile %s stays: %v", profile, err)
	}()
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelTimeout()

	step := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			var loc string
			chromedp.Run(ctx, chromedp.Location(&loc))
			t.Fatalf("%s (at %s): %v", what, loc, err)
		}
	}
	shot := func(name string) {
		t.Helper()
		var png []byte
		step("screenshot "+name, chromedp.FullScreenshot(&png, 100))
		path := filepath.Join(shots, name+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s", path)
	}

	// A browser at / lands on the login form; the token goes in a form,
	// and the cookie that keeps it is out of the page's reach.
	var loc string
	step("open /", chromedp.Navigate(base+"/"), chromedp.WaitVisible("#token", chromedp.ByID), chromedp.Location(&loc))
	if loc != base+"/dashboard/login" {
		t.Fatalf("/ led to %s, want the login form", loc)
	}
	shot("01-login")
	step("log in", chromedp.SendKeys("#token", token, chromedp.ByID), chromedp.Submit("#token", chromedp.ByID),
		chromedp.WaitVisible(`nav[aria-label="Main"]`), chromedp.Location(&loc))
	if strings.Contains(loc, token) || loc != base+"/dashboard/" {
		t.Fatalf("after the login at %s", loc)
	}
	var cookies []*network.Cookie
	var pageCookies string
	step("cookies", chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().Do(ctx)
		return err
	}), chromedp.Evaluate(`document.cookie`, &pageCookies))
	if len(cookies) != 1 || !cookies[0].HTTPOnly || cookies[0].SameSite != network.CookieSameSiteStrict || pageCookies != "" {
		t.Fatalf("cookies %+v, document.cookie %q: want one HttpOnly, SameSite=Strict cookie the page cannot read", cookies, pageCookies)
	}

	// A host failure, as masakari-hostmonitor posts it.
	id := d.Notify("COMPUTE_HOST", "compute1", map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"})

	// The list shows it; its page follows the recovery live, without a
	// reload, until every task is SUCCESS.
	link := `a[href="/dashboard/notifications/` + id + `"]`
	step("notifications", chromedp.Navigate(base+"/dashboard/"), chromedp.WaitVisible(link))
	step("open the notification", chromedp.Click(link), chromedp.WaitVisible("#status", chromedp.ByID))
	step("wait for a running task", chromedp.Poll(`document.querySelector('button.bar[data-state="RUNNING"]') !== null`, nil,
		chromedp.WithPollingTimeout(30*time.Second)))
	shot("02-notification-running")
	var done bool
	step("wait for every task to succeed", chromedp.Poll(`(function () {
		var bars = document.querySelectorAll("button.bar");
		if (document.getElementById("status").textContent !== "finished" || bars.length === 0) return false;
		return Array.prototype.every.call(bars, function (b) { return b.getAttribute("data-state") === "SUCCESS"; });
	})()`, &done, chromedp.WithPollingTimeout(90*time.Second)))
	var shown []string
	step("read the timeline", chromedp.Evaluate(`Array.prototype.map.call(document.querySelectorAll("button.bar"),
		function (b) { return b.getAttribute("data-task") + " " + b.getAttribute("data-state"); })`, &shown))
	var api struct {
		Notification struct {
			Details []struct {
				Name  string `json:"name"`
				State string `json:"state"`
			} `json:"recovery_workflow_details"`
		} `json:"notification"`
	}
	d.MustCall("GET", "/v1/notifications/"+id, nil, 200, &api)
	var want []string
	for _, d := range api.Notification.Details {
		want = append(want, d.Name+" "+d.State)
	}
	if len(want) < 3 || strings.Join(shown, "\n") != strings.Join(want, "\n") {
		t.Fatalf("timeline shows\n%s\nthe API has\n%s", strings.Join(shown, "\n"), strings.Join(want, "\n"))
	}
	// A bar opens its progress messages from the keyboard.
	var msgs string
	step("open a task's messages", chromedp.Focus("#task-0", chromedp.ByID), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible("#task-0-msgs", chromedp.ByID), chromedp.Text("#task-0-msgs", &msgs, chromedp.ByID))
	if !strings.Contains(msgs, "SUCCESS") || len(strings.TrimSpace(msgs)) < 20 {
		t.Errorf("task messages: %q", msgs)
	}
	shot("03-notification-finished")

	// The recovery put compute1 on maintenance; take it off, confirmed.
	off := `form[action="/dashboard/segments/` + segID + `/hosts/` + hostIDs["compute1"] + `/maintenance"] button`
	step("segments", chromedp.Navigate(base+"/dashboard/segments"), chromedp.WaitVisible(off))
	shot("04-segments-maintenance")
	var question string
	step("ask to take it off", chromedp.Click(off), chromedp.WaitVisible(".confirm .question"), chromedp.Text(".confirm .question", &question))
	if question != "Take host compute1 off maintenance?" {
		t.Errorf("confirmation asks %q", question)
	}
	shot("05-confirm")
	var flash string
	step("confirm", chromedp.Click(".confirm button.primary"), chromedp.WaitVisible(".flash"), chromedp.Text(".flash", &flash))
	if flash != "The host is off maintenance." {
		t.Errorf("after the action: %q", flash)
	}
	var host struct {
		Host struct {
			OnMaintenance bool `json:"on_maintenance"`
		} `json:"host"`
	}
	d.MustCall("GET", "/v1/segments/"+segID+"/hosts/"+hostIDs["compute1"], nil, 200, &host)
	if host.Host.OnMaintenance {
		t.Error("compute1 is still on maintenance")
	}
	var buttons int
	step("no maintenance button left", chromedp.Evaluate(`document.querySelectorAll('form[action$="/maintenance"]').length`, &buttons))
	if buttons != 0 {
		t.Errorf("%d host(s) still offer to leave maintenance", buttons)
	}
	shot("06-segments-done")

	step("flows", chromedp.Navigate(base+"/dashboard/flows"), chromedp.WaitVisible("#flow-host_auto", chromedp.ByID))
	shot("07-flows")
	step("filtered list", chromedp.Navigate(base+"/dashboard/?status=finished&type=COMPUTE_HOST"), chromedp.WaitVisible(link))
	shot("07-notifications-finished")

	// A phone's width.
	step("phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(base+"/dashboard/notifications/"+id), chromedp.WaitVisible("#status", chromedp.ByID))
	shot("08-phone-notification")
	step("phone segments", chromedp.Navigate(base+"/dashboard/segments"), chromedp.WaitVisible("h1"))
	shot("09-phone-segments")
}
