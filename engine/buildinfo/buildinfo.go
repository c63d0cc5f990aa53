// Package buildinfo says which kaifuku this is: the module version, the Go
// version and the source revision the binary was built from, as the Go
// toolchain records them in the binary.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Info describes a build.
type Info struct {
	// Version is the main module's version: a tag such as v1.2.0 for a
	// binary built with go install, "(devel)" for one built in a checkout.
	Version string
	// GoVersion is the Go release that compiled the binary.
	GoVersion string
	// Revision is the version control revision of a binary built in a
	// checkout ("" when the toolchain did not record one); Modified says the
	// work tree had uncommitted changes.
	Revision string
	Modified bool
}

// Read returns the running binary's build information.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "unknown", GoVersion: runtime.Version()}
	}
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) Info {
	info := Info{Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if info.Version == "" {
		info.Version = "unknown"
	}
	if info.GoVersion == "" {
		info.GoVersion = runtime.Version()
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is the one line kaifuku version prints.
func (i Info) String() string {
	s := fmt.Sprintf("kaifuku %s (%s", i.Version, i.GoVersion)
	if i.Revision != "" {
		s += ", revision " + i.Revision
		if i.Modified {
			s += ", modified"
		}
	}
	return s + ")"
}
