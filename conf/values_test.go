package conf

import "testing"

func TestParseBoolSpellings(t *testing.T) {
	for _, c := range []struct {
		in              string
		option, strutil int // 1 true, 0 false, -1 refused
	}{
		{"true", 1, 1}, {" Yes ", 1, 1}, {"ON", 1, 1}, {"1", 1, 1},
		{"false", 0, 0}, {"No", 0, 0}, {"off", 0, 0}, {"0", 0, 0},
		{"t", -1, 1}, {"Y", -1, 1}, {"f", -1, 0}, {"n", -1, 0},
		{"", -1, -1}, {"maybe", -1, -1}, {"2", -1, -1},
	} {
		for _, sp := range []struct {
			s    Spelling
			want int
		}{{OptionWords, c.option}, {StrutilsWords, c.strutil}} {
			v, ok := ParseBool(c.in, sp.s)
			got := -1
			if ok {
				got = 0
				if v {
					got = 1
				}
			}
			if got != sp.want {
				t.Errorf("ParseBool(%q, %d) = %v, %v; want %d", c.in, sp.s, v, ok, sp.want)
			}
		}
	}
}
