package luatest

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

type junitSuites struct {
	XMLName xml.Name `xml:"testsuites"`
	Name    string   `xml:"name,attr"`
	junitCounts
	Time   string       `xml:"time,attr"`
	Suites []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name string `xml:"name,attr"`
	junitCounts
	Time  string      `xml:"time,attr"`
	Cases []junitCase `xml:"testcase"`
}

// junitCounts are the counts of the whole run and of each test file.
type junitCounts struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Skipped  int `xml:"skipped,attr"`
}

func (c *junitCounts) add(s Status) {
	c.Tests++
	switch s {
	case Failed:
		c.Failures++
	case Errored:
		c.Errors++
	case Skipped:
		c.Skipped++
	}
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func seconds(d interface{ Seconds() float64 }) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes the report as JUnit XML: one testsuite per test file,
// failed assertions as <failure>, other errors as <error>, pending tests as
// <skipped>; a test's output goes to <system-out>.
func WriteJUnit(w io.Writer, rep *Report) error {
	all := junitSuites{Name: "kaifuku test", Time: seconds(rep.Elapsed)}
	index := map[string]int{}
	for _, r := range rep.Results {
		i, ok := index[r.File]
		if !ok {
			i = len(all.Suites)
			index[r.File] = i
			all.Suites = append(all.Suites, junitSuite{Name: r.File})
		}
		s := &all.Suites[i]
		c := junitCase{Name: r.Name, Classname: strings.TrimSuffix(r.File, ".lua"), File: r.File, Time: seconds(r.Duration)}
		if len(r.Output) > 0 {
			c.SystemOut = strings.Join(r.Output, "\n")
		}
		s.add(r.Status)
		all.add(r.Status)
		switch r.Status {
		case Failed, Errored:
			text := r.Failure.Error()
			if r.Trace != "" {
				text += "\n" + r.Trace
			}
			p := &junitProblem{Message: firstLine(r.Failure.Message), Text: text}
			if r.Status == Failed {
				p.Type = "assertion"
				c.Failure = p
			} else {
				p.Type = "error"
				c.Error = p
			}
		case Skipped:
			c.Skipped = &junitSkipped{Message: "pending"}
		}
		s.Cases = append(s.Cases, c)
	}
	// Per-suite time: the sum of its tests.
	for i := range all.Suites {
		var total float64
		for _, r := range rep.Results {
			if r.File == all.Suites[i].Name {
				total += r.Duration.Seconds()
			}
		}
		all.Suites[i].Time = fmt.Sprintf("%.3f", total)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
