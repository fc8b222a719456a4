package config

import (
	"strings"
	"testing"
)

func TestPprofAddrLoopbackOnly(t *testing.T) {
	for addr, ok := range map[string]bool{
		"":               true,
		"127.0.0.1:6060": true,
		"[::1]:6060":     true,
		"localhost:6060": true,
		"0.0.0.0:6060":   false,
		":6060":          false,
		"10.0.0.5:6060":  false,
		"127.0.0.1":      false,
	} {
		_, err := Load(func(k string) string { return map[string]string{"PPROF_ADDR": addr}[k] })
		if (err == nil) != ok {
			t.Errorf("PPROF_ADDR=%q: err = %v, want ok=%v", addr, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "PPROF_ADDR") {
			t.Errorf("PPROF_ADDR=%q: error %q does not name the variable", addr, err)
		}
	}
}
