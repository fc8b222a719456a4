package store

import (
	"os"
)

// SQLite writes temporary files (large sorts, and the whole copy of the
// database a VACUUM builds after an erasure) to the first writable
// directory of SQLITE_TMPDIR, TMPDIR, /var/tmp, /usr/tmp, /tmp and ".". On
// a read-only root without a tmpfs on /tmp there is none, and the VACUUM
// fails ("disk I/O error", SQLITE_IOERR_GETTEMPPATH). temp_store=MEMORY
// would make it work, but then the copy lives in the process heap: a
// VACUUM of a 200 MB database raised the peak RSS from 17 MB to 214 MB
// (BENCHMARKS.md), on a server that also holds live calls. So the
// temporary files go to a directory when there is one (a tmpfs on /tmp, as
// the README's docker run mounts), and into memory only when there is none.

// sqliteTempDirs are the directories SQLite tries, in its order.
func sqliteTempDirs(getenv func(string) string) []string {
	var dirs []string
	for _, v := range []string{"SQLITE_TMPDIR", "TMPDIR"} {
		if d := getenv(v); d != "" {
			dirs = append(dirs, d)
		}
	}
	return append(dirs, "/var/tmp", "/usr/tmp", "/tmp", ".")
}

// writableDir reports whether a file can be created in one of dirs.
func writableDir(dirs []string) bool {
	for _, d := range dirs {
		f, err := os.CreateTemp(d, "voiceagent-probe-")
		if err != nil {
			continue
		}
		name := f.Name()
		f.Close()
		os.Remove(name)
		return true
	}
	return false
}

// tempStorePragma is the DSN part that keeps SQLite's temporary files in
// memory when no directory can take them ("" otherwise).
func tempStorePragma(dirs []string) string {
	if writableDir(dirs) {
		return ""
	}
	return "&_pragma=temp_store(MEMORY)"
}
