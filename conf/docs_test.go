package conf

import (
	"bufio"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// referenceOption matches an option line of the reference configuration,
// commented out ("#key = value") or set ("key = value"). Examples inside
// comments are indented ("#     key = value") and do not match.
var referenceOption = regexp.MustCompile(`^#?([a-z_]+)\s*[=:]`)

// referenceSection matches a section header, set or commented out.
var referenceSection = regexp.MustCompile(`^#?\[([^\]]+)\]\s*$`)

// TestReferenceConfigurationIsComplete holds conf/examples/kaifuku.conf to
// the options kaifuku reads: every option of every section kaifuku owns must
// be documented in its section, and the file must document nothing kaifuku
// does not read.
func TestReferenceConfigurationIsComplete(t *testing.T) {
	f, err := os.Open("examples/kaifuku.conf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	documented := map[string]map[string]int{} // section -> option -> line
	section, line := "", 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line++
		text := sc.Text()
		if m := referenceSection.FindStringSubmatch(text); m != nil {
			section = m[1]
			if strings.HasPrefix(text, "#") {
				section = "" // a commented-out task section: an example
			}
			continue
		}
		if m := referenceOption.FindStringSubmatch(text); m != nil && section != "" {
			if documented[section] == nil {
				documented[section] = map[string]int{}
			}
			if first, dup := documented[section][m[1]]; dup {
				t.Errorf("kaifuku.conf:%d: [%s] %s documented twice (first at line %d)", line, section, m[1], first)
			}
			documented[section][m[1]] = line
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}

	for _, name := range OwnedSections() {
		def, _ := ownedSection(name)
		for _, opt := range def.names() {
			if _, ok := documented[name][opt]; !ok {
				t.Errorf("kaifuku.conf: [%s] %s is read by kaifuku but not documented", name, opt)
			}
		}
	}
	var sections []string
	for s := range documented {
		sections = append(sections, s)
	}
	sort.Strings(sections)
	for _, s := range sections {
		def, owned := ownedSection(s)
		if !owned {
			t.Errorf("kaifuku.conf: section [%s] is not a section kaifuku reads", s)
			continue
		}
		for opt, l := range documented[s] {
			if _, ok := def.option(opt); !ok {
				t.Errorf("kaifuku.conf:%d: [%s] %s is documented but kaifuku does not read it", l, s, opt)
			}
		}
	}
}
