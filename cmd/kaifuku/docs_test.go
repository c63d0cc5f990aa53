package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

const repoRoot = "../.."

var referenceConf = filepath.Join(repoRoot, "conf", "examples", "kaifuku.conf")

// TestReferenceConfigurationValidates runs `kaifuku check` on the reference
// configuration as it ships (every option commented out) and with every
// option uncommented, so that each documented default is a value kaifuku
// accepts.
func TestReferenceConfigurationValidates(t *testing.T) {
	out, _, err := execute(t, "check", "--config-file", referenceConf)
	if err != nil || !strings.Contains(out, "configuration is valid") {
		t.Fatalf("kaifuku check %s: out %q err %v", referenceConf, out, err)
	}

	src, err := os.ReadFile(referenceConf)
	if err != nil {
		t.Fatal(err)
	}
	option := regexp.MustCompile(`^#([a-z_]+\s*[=:].*)$`)
	var b strings.Builder
	set := 0
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		l := sc.Text()
		if m := option.FindStringSubmatch(l); m != nil {
			l = m[1]
			set++
		}
		b.WriteString(l + "\n")
	}
	if set < 50 {
		t.Fatalf("only %d options uncommented: the file's format changed", set)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "kaifuku.conf")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// The defaults name /var/lib/kaifuku; a later file keeps the check's
	// state out of it.
	local := filepath.Join(dir, "local.conf")
	if err := os.WriteFile(local, []byte("[DEFAULT]\nstate_dir = state\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err = execute(t, "check", "--config-file", p, "--config-file", local)
	if err != nil || !strings.Contains(out, "configuration is valid") {
		t.Fatalf("kaifuku check with every option of %s set to its documented default: out %q err %v", referenceConf, out, err)
	}
}

// TestMarkdownLinksResolve checks every relative link and every #anchor of
// the repository's Markdown files: the target file or directory must exist,
// and an anchor must name a heading of the target, by GitHub's rules.
func TestMarkdownLinksResolve(t *testing.T) {
	var files []string
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".md") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found only %v", files)
	}
	anchors := map[string]map[string]bool{}
	anchorsOf := func(p string) (map[string]bool, error) {
		if a, ok := anchors[p]; ok {
			return a, nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		a := headingAnchors(string(src))
		anchors[p] = a
		return a, nil
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repoRoot, f)
		for _, l := range markdownLinks(string(src)) {
			if problem := checkLink(f, l.target, anchorsOf); problem != "" {
				t.Errorf("%s:%d: link %q: %s", rel, l.line, l.target, problem)
			}
		}
	}
}

func checkLink(from, target string, anchorsOf func(string) (map[string]bool, error)) string {
	if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
		return ""
	}
	path, anchor, _ := strings.Cut(target, "#")
	file := from
	if path != "" {
		if strings.HasPrefix(path, "/") {
			return "absolute paths do not resolve in a clone; make it relative"
		}
		file = filepath.Join(filepath.Dir(from), filepath.FromSlash(path))
		st, err := os.Stat(file)
		if err != nil {
			return "no such file or directory"
		}
		if st.IsDir() {
			if anchor != "" {
				return "an anchor into a directory"
			}
			return ""
		}
	}
	if anchor == "" {
		return ""
	}
	if !strings.HasSuffix(file, ".md") {
		return "" // GitHub's anchors into source files are line numbers
	}
	a, err := anchorsOf(file)
	if err != nil {
		return err.Error()
	}
	if !a[anchor] {
		return fmt.Sprintf("no heading with anchor #%s in %s", anchor, filepath.Base(file))
	}
	return ""
}

type mdLink struct {
	target string
	line   int
}

var (
	inlineLink = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	codeSpan   = regexp.MustCompile("`[^`]*`")
)

// markdownLinks returns the targets of the inline links of a Markdown text,
// outside fenced code blocks and code spans.
func markdownLinks(src string) []mdLink {
	var links []mdLink
	fenced := false
	for i, l := range strings.Split(src, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		l = codeSpan.ReplaceAllString(l, "")
		for _, m := range inlineLink.FindAllStringSubmatch(l, -1) {
			links = append(links, mdLink{m[1], i + 1})
		}
	}
	return links
}

// headingAnchors returns the anchors GitHub gives the headings of a Markdown
// text: the heading in lower case, spaces turned into '-', punctuation other
// than '-' and '_' dropped, and "-1", "-2", ... added to repeated ones.
func headingAnchors(src string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	fenced := false
	for _, l := range strings.Split(src, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(l, "#") {
			continue
		}
		text := strings.TrimLeft(l, "#")
		if len(text) == len(l) || len(l)-len(text) > 6 || (text != "" && text[0] != ' ') {
			continue
		}
		a := githubAnchor(strings.TrimSpace(text))
		if n := seen[a]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	return anchors
}

func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestGithubAnchor(t *testing.T) {
	for heading, want := range map[string]string{
		"Running the daemon: `kaifuku serve`":     "running-the-daemon-kaifuku-serve",
		"`harness.run_task(name, opts)`":          "harnessrun_taskname-opts",
		"Settings: the `config` table":            "settings-the-config-table",
		"How kaifuku differs from Masakari":       "how-kaifuku-differs-from-masakari",
		"6. JUnit for CI":                         "6-junit-for-ci",
		"Where kaifuku differs from Masakari (1)": "where-kaifuku-differs-from-masakari-1",
	} {
		if got := githubAnchor(heading); got != want {
			t.Errorf("githubAnchor(%q) = %q, want %q", heading, got, want)
		}
	}
	a := headingAnchors("# A\n\n## A\n\n```\n# not a heading\n```\n#nospace\n")
	for _, want := range []string{"a", "a-1"} {
		if !a[want] {
			t.Errorf("anchors %v lack %q", a, want)
		}
	}
	if a["not-a-heading"] || a["nospace"] {
		t.Errorf("anchors %v include a code line or a non-heading", a)
	}
	if p := checkLink("x.md", "#b", func(string) (map[string]bool, error) { return a, nil }); p == "" {
		t.Error("a missing anchor was accepted")
	}
	if p := checkLink("x.md", "missing.md", nil); p == "" {
		t.Error("a missing file was accepted")
	}
}
