package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// pgInstance is a PostgreSQL server of this test's own, on a temporary
// directory and a random loopback port, that the test may stop and start
// again (never the shared test server).
type pgInstance struct {
	bin  string
	dir  string
	port int
	cred *syscall.Credential
	URL  string
}

// startPostgres initialises and starts a throwaway PostgreSQL from the
// binaries in /usr/lib/postgresql/*/bin, as the postgres user when the
// test runs as root. It skips the test when no binaries are installed.
func startPostgres(t *testing.T) *pgInstance {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		storetest.SkipNoPostgres(t, "no server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
	}
	pg := &pgInstance{bin: filepath.Dir(bins[len(bins)-1])}
	dir, err := os.MkdirTemp("", "voiceagent-e2e-pg-")
	if err != nil {
		t.Fatal(err)
	}
	pg.dir = dir
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			storetest.SkipNoPostgres(t, "running as root and there is no postgres user to run the server as (.ci/postgres.sh creates it)")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pg.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if out, err := pg.run("initdb", "-D", pg.data(), "-U", "voiceagent", "--auth=trust", "-E", "UTF8", "--no-locale"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	pg.URL = fmt.Sprintf("postgres://voiceagent@127.0.0.1:%d/postgres?sslmode=disable", pg.port)
	pg.Start(t)
	t.Cleanup(func() { _, _ = pg.run("pg_ctl", "-D", pg.data(), "-m", "immediate", "stop") })
	return pg
}

func (pg *pgInstance) data() string { return filepath.Join(pg.dir, "data") }

func (pg *pgInstance) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(pg.bin, name), args...)
	cmd.Dir = pg.dir
	if pg.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	}
	return cmd.CombinedOutput()
}

// Start starts the server and waits until it accepts connections.
func (pg *pgInstance) Start(t *testing.T) {
	t.Helper()
	opts := fmt.Sprintf("-k %s -h 127.0.0.1 -p %d -c fsync=off -c synchronous_commit=off -c full_page_writes=off", pg.dir, pg.port)
	if out, err := pg.run("pg_ctl", "-D", pg.data(), "-l", filepath.Join(pg.dir, "log"), "-w", "-o", opts, "start"); err != nil {
		t.Fatalf("pg_ctl start: %v\n%s", err, out)
	}
}

// Stop kills the server the hard way (immediate shutdown: connections
// are cut, as in a crash or a network partition).
func (pg *pgInstance) Stop(t *testing.T) {
	t.Helper()
	if out, err := pg.run("pg_ctl", "-D", pg.data(), "-m", "immediate", "-w", "stop"); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}
